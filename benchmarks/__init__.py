"""Reproducible benchmarks of the valuation engine; figures go to ``docs/benchmarks/``.

Run them all with ``python -m benchmarks`` or one with ``python -m benchmarks NAME`` (see
``benchmarks/__main__.py``). This package holds the small helpers the benchmark modules
share for their reports: the machine line, markdown tables and rewriting one marked section
of a report file.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import time
from pathlib import Path

import numpy as np
import sklearn

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks"


def machine() -> str:
    """One line describing where the figures were measured (the machine is shared)."""
    return (
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), Python "
        f"{platform.python_version()}, numpy {np.__version__}, scikit-learn "
        f"{sklearn.__version__}, {time.strftime('%Y-%m-%d')}; 1-minute load average "
        f"{os.getloadavg()[0]:.1f} when written"
    )


def table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(report: Path, title: str, key: str, body: str) -> None:
    """Replace the block ``key`` of ``report`` with ``body`` (appended if new; the file is
    created with ``title`` as its heading)."""
    begin, end = f"<!-- begin:{key} -->", f"<!-- end:{key} -->"
    block = f"{begin}\n{body.strip()}\n{end}"
    report.parent.mkdir(parents=True, exist_ok=True)
    text = report.read_text() if report.exists() else f"# {title}\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else f"{text}\n{block}\n"
    report.write_text(text)


def publish(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    body: str,
    *,
    report: Path,
    title: str,
    key: str,
) -> None:
    """Print ``body`` with its footer (machine, and the command that reproduces it: the
    options that differ from their defaults) and, unless ``--no-write``, write it into the
    block ``key`` of ``report``."""
    command = f"python -m benchmarks {Path(parser.prog).stem}"
    for dest, value in vars(args).items():
        if dest != "no_write" and value != parser.get_default(dest):
            shown = " ".join(map(str, value)) if isinstance(value, list) else value
            command += f" --{dest.replace('_', '-')} {shown}"
    text = f"{body}\n\nMeasured on {machine()}. Command: `{command}`."
    print(text, flush=True)
    if not args.no_write:
        write_section(report, title, key, text)
