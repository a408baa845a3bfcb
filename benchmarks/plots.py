"""Figures for the benchmark reports: SVG files in ``docs/benchmarks/img/``, linked from the
markdown sections that hold the same numbers as tables.

matplotlib draws them (Agg, no display); ids and metadata are fixed so a re-run with the
same numbers writes the same file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)

from benchmarks import DOCS  # noqa: E402

IMAGES = DOCS / "img"

plt.rcParams.update({"svg.hashsalt": "datafair", "font.size": 9, "axes.grid": True})

#: A series: x values and y values of one line.
Series = tuple[Sequence[float], Sequence[float]]


def _save(fig, name: str, alt: str) -> str:
    IMAGES.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(IMAGES / f"{name}.svg", format="svg", metadata={"Date": None})
    plt.close(fig)
    return f"![{alt}](img/{name}.svg)"


def line_panels(
    name: str,
    panels: Mapping[str, Mapping[str, Series]],
    *,
    xlabel: str,
    ylabel: str,
    alt: str,
    percent_x: bool = False,
) -> str:
    """One panel per key of ``panels``, one line per series; returns the markdown image."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.0), squeeze=False)
    for ax, (title, series) in zip(axes[0], panels.items(), strict=True):
        for label, (xs, ys) in series.items():
            xs = [100 * x for x in xs] if percent_x else xs
            ax.plot(xs, ys, marker="o", markersize=3, label=label)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
    axes[0][0].legend(fontsize=7)
    return _save(fig, name, alt)


def bar_panels(
    name: str, panels: Mapping[str, Mapping[str, float]], *, ylabel: str, alt: str
) -> str:
    """One panel per key of ``panels``, one bar per entry; returns the markdown image."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.2), squeeze=False)
    for ax, (title, bars) in zip(axes[0], panels.items(), strict=True):
        ax.bar(range(len(bars)), list(bars.values()))
        ax.set_xticks(range(len(bars)), list(bars), rotation=35, ha="right", fontsize=7)
        ax.set_title(title)
        ax.set_ylabel(ylabel)
    return _save(fig, name, alt)
