"""Inline SVG charts for the results pages, rendered on the server.

Three shapes cover the pages: horizontal bars with interval whiskers around a zero line
(contributions, the lift), one stacked column with its parts named beside it (where the
price goes), and a step curve (lift against spend). Each returns accessible SVG
(``role="img"``, ``<title>``, ``<desc>``, a ``<title>`` per mark for hover) whose colours come
from CSS classes in ``site.css``; every chart is shown beside a table with the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 440
PAD = 12
LABEL_CHARS = 34

Format = Callable[[float], str]


@dataclass(frozen=True)
class Bar:
    """One row of a bar chart: a value and the interval around it.

    Attributes
    ----------
    label : str
        Row name, written above the bar.
    value : float
        Length of the bar from zero (negative values extend left of the zero line).
    low, high : float
        Ends of the whisker (equal to ``value`` for no interval).
    tone : str
        CSS class suffix that colours the bar (``pos``, ``neg``, ``out``, …).
    note : str
        Text at the right of the label line, usually the value in words.
    """

    label: str
    value: float
    low: float
    high: float
    tone: str = "pos"
    note: str = ""


@dataclass(frozen=True)
class Segment:
    """One part of a stacked bar: an amount in cents, its name and its colour class."""

    label: str
    amount: int
    tone: str


@dataclass(frozen=True)
class Point:
    """One point of a curve; ``highlight`` rings it (the offer)."""

    x: float
    y: float
    label: str
    highlight: bool = False


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _tag(name: str, attrs: dict[str, object], *children: str) -> str:
    rendered = "".join(
        f' {key}="{escape(_num(v) if isinstance(v, float) else str(v))}"'
        for key, v in attrs.items()
        if v is not None
    )
    if not children:
        return f"<{name}{rendered}/>"
    return f"<{name}{rendered}>{''.join(children)}</{name}>"


def _text(x: float, y: float, content: str, **attrs: object) -> str:
    names = {"anchor": "text-anchor", "cls": "class"}
    return _tag(
        "text", {"x": x, "y": y, **{names.get(k, k): v for k, v in attrs.items()}}, escape(content)
    )


def _svg(chart_id: str, title: str, description: str, height: float, body: list[str]) -> SafeString:
    head = [
        _tag("title", {"id": f"{chart_id}-title"}, escape(title)),
        _tag("desc", {"id": f"{chart_id}-desc"}, escape(description)),
    ]
    attrs = {
        "xmlns": "http://www.w3.org/2000/svg",
        "class": "chart",
        "id": chart_id,
        "viewBox": f"0 0 {WIDTH} {_num(height)}",
        "role": "img",
        "aria-labelledby": f"{chart_id}-title {chart_id}-desc",
    }
    return mark_safe(_tag("svg", attrs, *head, *body))  # every text node above is escaped


def _clip(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick positions (steps of 1, 2 or 5 × 10^k) covering ``[low, high]``.

    The first tick is at or below ``low``, the last at or above ``high``, at most about
    ``count + 2`` of them. A range too narrow for 12 significant digits to tell its ends
    apart (empty, or 1e6 ± 1e-10) is widened around its middle.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("tick range must be finite")
    if low > high:
        low, high = high, low
    if high - low < max(1e-12, 1e-9 * max(abs(low), abs(high))):
        middle = (low + high) / 2
        half = abs(middle) * 0.5 or 1.0
        low, high = middle - half, middle + half
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    # Exact floor and ceiling: float noise may add a tick, never leave the range uncovered.
    first = math.floor(low / step)
    last = math.ceil(high / step)
    # Multiply integers by the step (no accumulated sums); keep 12 significant digits so
    # float noise (0.30000000000000004) goes but tiny steps survive.
    return [float(f"{k * step:.12g}") for k in range(first, last + 1)]


class _Linear:
    """Maps a data interval onto a pixel interval."""

    def __init__(self, domain: tuple[float, float], pixels: tuple[float, float]):
        self.domain = domain
        self.pixels = pixels

    def __call__(self, value: float) -> float:
        (d0, d1), (p0, p1) = self.domain, self.pixels
        return p0 + (value - d0) / (d1 - d0) * (p1 - p0)


def bar_chart(
    bars: Sequence[Bar], *, chart_id: str, title: str, description: str, axis_format: Format
) -> SafeString:
    """Horizontal bars from a zero line, with whiskers from ``low`` to ``high``.

    Rows are stacked top to bottom, each with its label and note on a line above the bar,
    so the chart stays legible when a phone shrinks it.
    """
    if not bars:
        raise ValueError("a bar chart needs at least one bar")
    row, top = 54.0, 6.0
    ticks = nice_ticks(min(0.0, *(b.low for b in bars)), max(0.0, *(b.high for b in bars)))
    x = _Linear((ticks[0], ticks[-1]), (PAD, WIDTH - PAD))
    axis_y = top + row * len(bars) + 4
    body = [
        _tag("line", {"class": "grid", "x1": x(t), "x2": x(t), "y1": top, "y2": axis_y})
        for t in ticks
        if t != 0
    ]
    for i, bar in enumerate(bars):
        y0 = top + i * row
        centre = y0 + 33
        # At least a pixel, so a tiny value stays visible, and always on its side of zero.
        width = max(abs(x(bar.value) - x(0.0)), 1.0)
        left = x(0.0) - width if bar.value < 0 else x(0.0)
        marks = [
            _tag("title", {}, escape(f"{bar.label}: {bar.note}".strip(": "))),
            _text(PAD, y0 + 16, _clip(bar.label), cls="label"),
            _text(WIDTH - PAD, y0 + 16, bar.note, cls="note", anchor="end"),
            _tag(
                "rect",
                {
                    "class": f"bar tone-{bar.tone}",
                    "x": left,
                    "y": centre - 9,
                    "width": width,
                    "height": 18.0,
                    "rx": 2,
                },
            ),
        ]
        if bar.high > bar.low:
            lo, hi = x(bar.low), x(bar.high)
            marks += [
                _tag("line", {"class": "whisker", "x1": lo, "x2": hi, "y1": centre, "y2": centre}),
                _tag(
                    "line",
                    {"class": "whisker", "x1": lo, "x2": lo, "y1": centre - 7, "y2": centre + 7},
                ),
                _tag(
                    "line",
                    {"class": "whisker", "x1": hi, "x2": hi, "y1": centre - 7, "y2": centre + 7},
                ),
            ]
        body.append(_tag("g", {"class": "row"}, *marks))
    body.append(
        _tag("line", {"class": "zero", "x1": x(0.0), "x2": x(0.0), "y1": top, "y2": axis_y})
    )
    body.append(
        _tag("line", {"class": "axis", "x1": PAD, "x2": WIDTH - PAD, "y1": axis_y, "y2": axis_y})
    )
    for t in ticks:
        anchor = "start" if t == ticks[0] else "end" if t == ticks[-1] else "middle"
        body.append(_text(x(t), axis_y + 16, axis_format(t), cls="tick", anchor=anchor))
    return _svg(chart_id, title, description, axis_y + 22, body)


def _spread(wanted: list[float], gap: float, low: float, high: float) -> list[float]:
    """Positions as close as possible to ``wanted`` (ascending), at least ``gap`` apart,
    within ``[low, high]`` when they fit."""
    placed: list[float] = []
    for y in wanted:
        placed.append(max(y, low, placed[-1] + gap if placed else low))
    for i in range(len(placed) - 1, -1, -1):
        ceiling = high if i == len(placed) - 1 else placed[i + 1] - gap
        placed[i] = max(min(placed[i], ceiling), low + i * gap)
    return placed


def stacked_column(
    segments: Sequence[Segment], *, chart_id: str, title: str, description: str, fmt: Format
) -> SafeString:
    """One column split into parts proportional to their amounts, each part named beside
    it with its amount and share (zero amounts are skipped)."""
    parts = [s for s in segments if s.amount > 0]
    total = sum(s.amount for s in parts)
    if total <= 0:
        raise ValueError("a stacked column needs a positive total")
    label_gap = 40.0
    top, left, right = 10.0, PAD, PAD + 110.0
    bottom = top + max(260.0, label_gap * len(parts))
    y = _Linear((0.0, float(total)), (top, bottom))
    boxes, done = [], 0
    for segment in parts:
        boxes.append((y(done), y(done + segment.amount)))
        done += segment.amount
    label_y = _spread([(a + b) / 2 - 4 for a, b in boxes], label_gap, top + 10, bottom - 22)
    body = []
    for segment, (y0, y1), ly in zip(parts, boxes, label_y, strict=True):
        share = segment.amount / total
        marks = [
            _tag("title", {}, escape(f"{segment.label}: {fmt(segment.amount)} ({share:.1%})")),
            _tag(
                "rect",
                {
                    "class": f"seg tone-{segment.tone}",
                    "x": left,
                    "y": y0,
                    "width": right - left,
                    "height": y1 - y0,
                },
            ),
            _tag(
                "polyline",
                {
                    "class": "leader",
                    "points": f"{_num(right + 4)},{_num((y0 + y1) / 2)} "
                    f"{_num(right + 22)},{_num(ly - 4)} {_num(right + 30)},{_num(ly - 4)}",
                },
            ),
            _text(right + 36, ly, _clip(segment.label), cls="label"),
            _text(right + 36, ly + 18, f"{fmt(segment.amount)} · {share:.1%}", cls="note"),
        ]
        if y1 - y0 >= 22:
            marks.append(
                _text(
                    (left + right) / 2,
                    (y0 + y1) / 2 + 5,
                    f"{share:.1%}",
                    cls="seg-label",
                    anchor="middle",
                )
            )
        body.append(_tag("g", {"class": "segment"}, *marks))
    return _svg(chart_id, title, description, bottom + top, body)


def step_curve(
    points: Sequence[Point],
    *,
    chart_id: str,
    title: str,
    description: str,
    x_format: Format,
    y_format: Format,
    x_marker: tuple[float, str] | None = None,
) -> SafeString:
    """What the best choice reaches at each level of x: a rising step line through the
    points (sorted by x), with an optional labelled vertical marker (the budget)."""
    if not points:
        raise ValueError("a curve needs at least one point")
    ordered = sorted(points, key=lambda p: (p.x, p.y))
    left, right, top, bottom, height = 72.0, WIDTH - 16.0, 24.0, 240.0, 276.0
    x_extent = max([p.x for p in ordered] + ([x_marker[0]] if x_marker else []))
    x_ticks = nice_ticks(0.0, x_extent * 1.05 or 1.0)
    y_ticks = nice_ticks(min(0.0, *(p.y for p in ordered)), max(0.0, *(p.y for p in ordered)) * 1.1)
    x = _Linear((x_ticks[0], x_ticks[-1]), (left, right))
    y = _Linear((y_ticks[0], y_ticks[-1]), (bottom, top))
    body = []
    for t in y_ticks:
        body.append(
            _tag("line", {"class": "grid", "x1": left, "x2": right, "y1": y(t), "y2": y(t)})
        )
        body.append(_text(left - 8, y(t) + 4, y_format(t), cls="tick", anchor="end"))
    for t in x_ticks:
        body.append(_text(x(t), bottom + 18, x_format(t), cls="tick", anchor="middle"))
    body.append(
        _tag("line", {"class": "axis", "x1": left, "x2": right, "y1": bottom, "y2": bottom})
    )
    body.append(_tag("line", {"class": "axis", "x1": left, "x2": left, "y1": top, "y2": bottom}))
    if x_marker is not None:
        at, label = x_marker
        body.append(
            _tag("line", {"class": "marker", "x1": x(at), "x2": x(at), "y1": top, "y2": bottom})
        )
        body.append(_text(x(at) - 4, top - 8, label, cls="marker-label", anchor="end"))
    path = [f"M{_num(x(ordered[0].x))},{_num(y(ordered[0].y))}"]
    for point in ordered[1:]:
        path.append(f"H{_num(x(point.x))}V{_num(y(point.y))}")
    path.append(f"H{_num(right)}")
    body.append(_tag("path", {"class": "curve", "d": "".join(path)}))
    for point in ordered:
        body.append(
            _tag(
                "circle",
                {
                    "class": "dot highlight" if point.highlight else "dot",
                    "cx": x(point.x),
                    "cy": y(point.y),
                    "r": 7 if point.highlight else 5,
                },
                _tag("title", {}, escape(point.label)),
            )
        )
    return _svg(chart_id, title, description, height, body)
