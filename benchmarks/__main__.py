"""Run the benchmarks: ``python -m benchmarks`` (all, with their defaults) or
``python -m benchmarks NAME [ARGS]`` (one, with its own arguments).

Every module of this package with a ``main()`` is a benchmark; each runs in its own process
(``python -m benchmarks.NAME``), one after the other, so they never share the 2 cores and a
failing one does not stop the rest. ``python -m benchmarks --list`` names them.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benchmark_names() -> list[str]:
    """Modules of this package that define ``main()``, by name."""
    names = []
    for module in pkgutil.iter_modules([str(HERE)]):
        if module.ispkg or module.name.startswith("_"):
            continue
        if "\ndef main(" in (HERE / f"{module.name}.py").read_text():
            names.append(module.name)
    return sorted(names)


def main(argv: list[str]) -> int:
    names = benchmark_names()
    if argv[:1] == ["--list"]:
        print("\n".join(names))
        return 0
    if argv and argv[0] not in names:
        print(f"error: no benchmark {argv[0]!r}; choose one of {', '.join(names)}")
        return 2
    # One benchmark takes its own arguments; all of them run with their defaults.
    chosen, extra = (argv[:1], argv[1:]) if argv else (names, [])
    failed = []
    for name in chosen:
        print(f"== benchmarks.{name}", flush=True)
        command = [sys.executable, "-m", f"benchmarks.{name}", *extra]
        code = subprocess.call(command, cwd=HERE.parent)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
