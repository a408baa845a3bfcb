#!/usr/bin/env bash
# Create the comparison venv (benchmarks/compare/.venv) with pyDVL 0.10, which pins numpy<2.
# It is separate from DataFair's own environment and never one of its dependencies.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
if [ ! -x "$here/.venv/bin/python" ]; then
    "$python" -m venv "$here/.venv"
fi
"$here/.venv/bin/python" -m pip install --quiet --upgrade pip
"$here/.venv/bin/python" -m pip install --quiet -r "$here/requirements.txt"
"$here/.venv/bin/python" -c "import pydvl, numpy; print('pyDVL', pydvl.__version__, 'numpy', numpy.__version__)"
