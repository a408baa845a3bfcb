"""Fixtures of the valuation job tests (their specs: tests/support/specs.py)."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(0)
