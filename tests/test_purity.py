"""The pure packages never pull Django in: they must be usable by a data scientist alone."""

import subprocess
import sys

import pytest

PURE_MODULES = [
    "valuation.core",
    "valuation.core.records",
    "marketplace.quality",
    "valuation.core.report",
    "valuation.core.insights",
    "pricing",
    "pricing.money",
    "pricing.shares",
    "pricing.replication",
    "pricing.settlement",
    "pricing.lift",
    "pricing.quote",
    "pricing.row_offer",
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


def test_the_work_app_depends_on_none_of_the_apps_that_use_it():
    """work/ is below valuation and marketplace (docs/architecture.md): it may import config,
    never them, or the layers would turn into a cycle."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "work"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                top = name.split(".")[0]
                assert top not in {"marketplace", "valuation", "pricing"}, f"{path}: {name}"
