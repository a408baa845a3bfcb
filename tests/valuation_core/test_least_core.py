"""LeastCore: efficiency, every constraint, minimal subsidy (dual LP), minimum norm (SLSQP),
determinism, symmetry, sampled constraints and chunks."""

from itertools import combinations

import numpy as np
import pytest
from scipy.optimize import linprog, minimize

from tests.valuation_core.oracles import RecordingGame, random_table, table_game
from valuation.core import ExactShapley, LeastCore, fit_chunked
from valuation.core.games import TableGame


def coalitions(n):
    return [frozenset(c) for k in range(1, n) for c in combinations(range(n), k)]


def worth(table, n):
    empty = float(table[frozenset()])
    return {s: float(table[s]) - empty for s in coalitions(n)}, float(
        table[frozenset(range(n))]
    ) - empty


def dual_subsidy(table, n):
    """max Σ λ_S v(S) − t·v(N) s.t. Σ λ = 1, Σ_{S∋i} λ_S = t ∀i, λ ≥ 0: the LP dual of the
    least core (balanced collections), solved independently of the code under test."""
    values, total = worth(table, n)
    sets = list(values)
    m = len(sets)
    c = -np.r_[[values[s] for s in sets], -total]  # variables (λ, t); maximise
    equalities = [np.r_[np.ones(m), 0.0]]
    for i in range(n):
        equalities.append(np.r_[[float(i in s) for s in sets], -1.0])
    rhs = [1.0] + [0.0] * n
    bounds = [(0, None)] * m + [(None, None)]
    return -linprog(c, A_eq=np.array(equalities), b_eq=rhs, bounds=bounds, method="highs").fun


def minimum_norm_by_slsqp(table, n, subsidy):
    values, total = worth(table, n)
    sets = list(values)
    constraints = [{"type": "eq", "fun": lambda x: x.sum() - total}] + [
        {"type": "ineq", "fun": lambda x, s=s: sum(x[i] for i in s) + subsidy + 1e-9 - values[s]}
        for s in sets
    ]
    start = np.full(n, total / n)
    return minimize(
        lambda x: x @ x,
        start,
        jac=lambda x: 2 * x,
        constraints=constraints,
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 500},
    ).x


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_least_core_on_random_games(n, seed):
    table = random_table(n, np.random.default_rng(100 * n + seed))
    est = LeastCore().fit(table_game(table, n))
    x, subsidy = est.result_.values, est.subsidy_
    values, total = worth(table, n)
    assert x.sum() == pytest.approx(total, abs=1e-9)
    assert est.result_.efficiency_gap == pytest.approx(0.0, abs=1e-9)
    for s, v in values.items():
        assert sum(x[i] for i in s) + subsidy >= v - 1e-12
    assert subsidy == pytest.approx(dual_subsidy(table, n), abs=1e-7)
    reference = minimum_norm_by_slsqp(table, n, subsidy)
    assert x @ x <= reference @ reference + 1e-7
    np.testing.assert_allclose(x, reference, atol=1e-4)


def test_majority_game_has_the_textbook_least_core():
    table = {c: float(len(c) >= 2) for k in range(4) for c in combinations(range(3), k)}
    est = LeastCore().fit(TableGame(table, 3))
    np.testing.assert_allclose(est.result_.values, [1 / 3] * 3, atol=1e-12)
    assert est.subsidy_ == pytest.approx(1 / 3, abs=1e-9)


def test_convex_game_has_a_non_empty_core_and_the_egalitarian_point():
    n = 5
    table = {c: float(len(c) ** 2) for k in range(n + 1) for c in combinations(range(n), k)}
    est = LeastCore().fit(TableGame(table, n))
    np.testing.assert_allclose(est.result_.values, np.full(n, 5.0), atol=1e-9)
    assert est.subsidy_ <= 0


def test_tie_break_is_deterministic_and_permutation_equivariant():
    n = 5
    table = random_table(n, np.random.default_rng(77))
    first = LeastCore().fit(table_game(table, n)).result_.values
    second = LeastCore().fit(table_game(table, n)).result_.values
    np.testing.assert_array_equal(first, second)
    order = np.random.default_rng(1).permutation(n)  # new player k is old player order[k]
    new_index = np.argsort(order)
    renamed = {frozenset(int(new_index[p]) for p in s): v for s, v in table.items()}
    permuted = LeastCore().fit(table_game(renamed, n)).result_.values
    np.testing.assert_allclose(permuted[new_index], first, atol=1e-9)


def test_reduces_the_exact_methods_subsets_table():
    table = random_table(5, np.random.default_rng(8))
    shared = ExactShapley().fit(table_game(table, 5)).utility_table_
    direct = LeastCore().fit(table_game(table, 5)).result_.values
    np.testing.assert_array_equal(LeastCore().reduce(shared).values, direct)


def test_sampled_constraints():
    n = 9
    table = random_table(n, np.random.default_rng(5))
    game = RecordingGame(n, table.__getitem__)
    est = LeastCore(n_samples=60, random_state=3).fit(game)
    calls = [frozenset(c) for c in game.calls]
    assert len(calls) == len(set(calls)) == est.n_utility_evaluations_ == n + 2 + 60
    assert all(frozenset([i]) in calls for i in range(n))
    x = est.result_.values
    empty = float(table[frozenset()])
    assert x.sum() == pytest.approx(float(table[frozenset(range(n))]) - empty, abs=1e-9)
    for s in calls:
        assert sum(x[i] for i in s) + est.subsidy_ >= float(table[s]) - empty - 1e-12
    exact = LeastCore().fit(table_game(table, n))
    assert est.subsidy_ <= exact.subsidy_ + 1e-9  # fewer constraints, smaller subsidy
    chunked = fit_chunked(
        LeastCore(n_samples=60, random_state=3), table_game(table, n), chunks=[(0, 30), (30, 71)]
    )
    np.testing.assert_array_equal(chunked.values, x)


def test_clear_errors():
    table = random_table(4, np.random.default_rng(0))
    with pytest.raises(ValueError, match="max_players"):
        LeastCore(max_players=3).fit(table_game(table, 4))
    with pytest.raises(ValueError, match="random_state"):
        LeastCore(n_samples=3).fit(table_game(table, 4))
    est = LeastCore()
    partial = est.fit_chunk(table_game(table, 4), start=0, stop=10)
    with pytest.raises(ValueError, match="misses 6 coalitions"):
        est.reduce(partial)
