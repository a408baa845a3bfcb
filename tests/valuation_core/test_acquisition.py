"""Row buying never overspends and is optimal where brute force can check; pool rankings."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_classification

from valuation.core.acquisition import PoolRanker, buy_rows, buy_top_rows, row_prices
from valuation.core.dataset import Dataset


def _brute_force(values: np.ndarray, prices: np.ndarray, budget: int) -> float:
    best = 0.0
    for size in range(len(values) + 1):
        for rows in itertools.combinations(range(len(values)), size):
            rows = list(rows)
            if prices[rows].sum() <= budget:
                best = max(best, values[rows].sum())
    return best


small = st.integers(1, 8).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(-1, 1), min_size=n, max_size=n),
        st.lists(st.integers(1, 30), min_size=n, max_size=n),
        st.integers(0, 60),
    )
)


@settings(max_examples=60, deadline=None)
@given(small)
def test_exact_buying_is_optimal_and_within_budget(case):
    values, prices, budget = np.array(case[0]), np.array(case[1]), case[2]
    rows, exact = buy_rows(values, prices, budget)
    assert exact
    assert prices[rows].sum() <= budget
    assert (values[rows] > 0).all()
    assert values[rows].sum() == pytest.approx(_brute_force(values, prices, budget))


@settings(max_examples=60, deadline=None)
@given(small)
def test_greedy_buying_never_overspends_and_never_beats_the_optimum(case):
    values, prices, budget = np.array(case[0]), np.array(case[1]), case[2]
    rows, _ = buy_rows(values, prices, budget, max_cells=0)
    assert prices[rows].sum() <= budget
    assert len(set(rows.tolist())) == len(rows)
    assert values[rows].sum() <= _brute_force(values, prices, budget) + 1e-12


def test_prices_follow_values_with_a_floor():
    prices = row_prices(np.array([-0.5, 0.0, 0.004, 0.2, 0.4]), rate=1000, floor=2)
    assert prices.tolist() == [2, 2, 4, 200, 400]
    assert prices.dtype.kind == "i"
    with pytest.raises(ValueError):
        row_prices(np.array([1.0]), rate=0)


def _pool():
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, random_state=0)
    return Dataset(X[:40], y[:40]), X[40:200], Dataset(X[200:], y[200:])


def test_rankings_are_permutations_and_seeded():
    labeled, X_pool, valid = _pool()
    for strategy in ("value", "uncertainty", "random"):
        a = PoolRanker(strategy=strategy, random_state=3).fit(labeled, X_pool, valid)
        b = PoolRanker(strategy=strategy, random_state=3).fit(labeled, X_pool, valid)
        assert sorted(a.ranking_.tolist()) == list(range(len(X_pool)))
        assert np.array_equal(a.ranking_, b.ranking_)
        assert np.all(np.diff(a.scores_[a.ranking_]) <= 0)


def test_uncertainty_puts_points_near_the_boundary_first():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    labeled = Dataset(X, (X[:, 0] > 0).astype(int))
    X_pool = np.array([[5.0, 0.0], [0.01, 0.0], [-5.0, 0.0]])
    ranker = PoolRanker(strategy="uncertainty").fit(labeled, X_pool)
    assert ranker.next_batch(1).tolist() == [1]


def test_value_mix_one_orders_by_predicted_value():
    labeled, X_pool, valid = _pool()
    ranker = PoolRanker(strategy="value", mix=1.0, random_state=0).fit(labeled, X_pool, valid)
    assert np.all(np.diff(ranker.predicted_values_[ranker.ranking_]) <= 0)
    with pytest.raises(ValueError):
        PoolRanker(strategy="value").fit(labeled, X_pool)


def test_buy_top_rows_takes_the_most_valuable_first_and_fills_what_is_left():
    values = np.array([0.5, 4.0, -1.0, 3.0, 2.0, 0.0])
    prices = np.array([1, 40, 1, 30, 20, 1])
    # 40 + 30 = 70 of 75: the 20-cent row no longer fits, the 1-cent row does.
    assert buy_top_rows(values, prices, 75).tolist() == [0, 1, 3]
    assert buy_top_rows(values, prices, 0).tolist() == []
    # Never a row worth nothing, whatever the budget.
    assert buy_top_rows(values, prices, 10_000).tolist() == [0, 1, 3, 4]
    with pytest.raises(ValueError, match="non-negative"):
        buy_top_rows(values, prices, -1)
