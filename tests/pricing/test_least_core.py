"""Least-core certificate: the LP's solution passes, a smaller subsidy cannot, payouts follow it."""

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from pricing.least_core import LeastCoreCheck, check_least_core
from pricing.lift import Lift
from pricing.quote import BundleValuation, quote
from pricing.shares import Contribution


def _game(n, rng):
    players = [f"p{i}" for i in range(n)]
    utilities = {frozenset(): 0.5}
    for k in range(1, n + 1):
        for s in itertools.combinations(players, k):
            utilities[frozenset(s)] = 0.5 + float(rng.uniform(0.0, 0.1)) * k**0.7
    return players, utilities


def _least_core_lp(players, utilities):
    """min e s.t. sum x = v(N), sum_S x + e >= v(S): variables (x_1..x_n, e)."""
    n = len(players)
    base = utilities[frozenset()]
    a_ub, b_ub = [], []
    for s, u in utilities.items():
        if s and len(s) < n:
            a_ub.append([-1.0 if p in s else 0.0 for p in players] + [-1.0])
            b_ub.append(-(u - base))
    a_eq = [[1.0] * n + [0.0]]
    b_eq = [utilities[frozenset(players)] - base]
    res = linprog(
        c=[0.0] * n + [1.0],
        A_ub=a_ub or None,
        b_ub=b_ub or None,
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=[(None, None)] * (n + 1),
        method="highs",
    )
    assert res.success
    return dict(zip(players, res.x[:n])), float(res.x[n])


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 5), seed=st.integers(0, 2**32 - 1))
def test_lp_solution_is_certified_and_its_subsidy_is_minimal(n, seed):
    players, utilities = _game(n, np.random.default_rng(seed))
    x, e = _least_core_lp(players, utilities)
    check = check_least_core(x, utilities, subsidy=e, tolerance=1e-7)
    assert check.ok, check.to_dict()
    tighter = check_least_core(x, utilities, subsidy=e - 1e-3, tolerance=1e-7)
    assert not tighter.ok and tighter.violations
    assert LeastCoreCheck.from_dict(json.loads(json.dumps(tighter.to_dict()))) == tighter
    shifted = dict(x)
    shifted[players[0]] += 0.01
    assert not check_least_core(shifted, utilities, subsidy=e, tolerance=1e-7).ok


def test_least_core_payoffs_split_money_by_the_same_rule():
    rng = np.random.default_rng(3)
    players, utilities = _game(3, rng)
    x, e = _least_core_lp(players, utilities)
    lift = utilities[frozenset(players)] - utilities[frozenset()]
    q = quote(
        BundleValuation(tuple(Contribution(p, x[p]) for p in players), Lift(lift, lift / 2, lift)),
        budget_cents=10**6,
        cents_per_point=1_000,
        fee_bps=0,
        basis="least_core",
    )
    assert q.sale
    pool = q.settlement.pool_cents
    positive = {p: v for p, v in x.items() if v > 0}
    for p, v in positive.items():
        assert abs(q.payouts[p] - pool * v / sum(positive.values())) < 1


def test_missing_grand_coalition_is_rejected():
    with pytest.raises(ValueError):
        check_least_core({"a": 1.0}, {frozenset(): 0.0}, subsidy=0.0)
