"""``manage.py demo`` runs its job through a real worker on the embedded defaults."""

import subprocess
import sys

import pytest

from tests.support.services import REPO_ROOT, process_env

pytestmark = pytest.mark.integration


def test_demo_values_a_market_through_a_real_worker(tmp_path):
    env = process_env(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=None,
        REDIS_URL=None,
        DATAFAIR_VAR_DIR=str(tmp_path),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "demo", "--no-serve"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Worker answered 'pong'" in out
    assert "HELD: 100% of its rows are also in another provider's dataset" in out
    # Every upload was screened by the worker before the task: the clinics are on sale; the
    # noisy lab or the noise vendor may be held, but only by a screen's measured number.
    market = [line for line in out.splitlines() if " rows  reserve " in line]
    assert len(market) == 5
    for clinic in ("Clinic North", "Clinic South"):
        assert any(clinic in line and line.endswith("on sale") for line in market), clinic
    for line in market:
        if "HELD" in line and "Premium biopsy set" not in line:
            assert " points " in line or "similarity" in line or "robust z" in line, line
    assert "done in" in out and ": quoted" in out
    assert "Quote and split:" in out
    assert "left out: harmful" in out, "the noisy lab is not sold"
    assert "Check: " in out
    # After the quote the worker computes the insights: every candidate's removal measured
    # with its interval, the suspect rows, and a row-level offer within a quarter of the budget.
    assert "What else the worker found" in out
    removals = [line for line in out.splitlines() if "drop it" in line or "no confident" in line]
    assert len(removals) == 4, removals
    assert "lowest-valued rows" in out and "Wrong predictions:" in out
    offer = next(line for line in out.splitlines() if "Row-level offer within $75.00" in line)
    price = float(offer.split(" for $")[1].split(" ")[0].replace(",", ""))
    assert 0 < price <= 75
    assert (tmp_path / "db.sqlite3").is_file()
