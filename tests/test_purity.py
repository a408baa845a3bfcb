"""The pure packages never pull Django in: they must be usable by a data scientist alone."""

import subprocess
import sys

import pytest

PURE_MODULES = [
    "valuation.core",
    "pricing",
    "pricing.money",
    "pricing.shares",
    "pricing.replication",
    "pricing.settlement",
    "pricing.lift",
    "pricing.quote",
    "pricing.bundle",
    "pricing.arbitrage",
    "pricing.least_core",
    "pricing.mechanisms.myerson",
    "pricing.mechanisms.mwu",
]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_does_not_import_django(module):
    code = f"import sys, {module}; print('django' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False", f"importing {module} imported django"
