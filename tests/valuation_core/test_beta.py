"""BetaShapley: Beta(1,1) is Shapley, brute-force semivalues, axioms, error bars."""

from itertools import combinations

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import beta as beta_distribution

from tests.valuation_core.oracles import random_table, table_game
from valuation.core import BetaShapley, StratifiedShapley
from valuation.core.games import AdditiveGame
from valuation.core.methods.beta import beta_size_weights


def semivalue_by_subsets(table, n, alpha, beta):
    """Σ_{S ∌ i} w(|S|) (U(S ∪ i) − U(S)), w(k) = ∫ t^k (1−t)^(n−1−k) dBeta(t; β, α),
    integrated numerically: independent of the Beta-Binomial code under test."""
    density = beta_distribution(beta, alpha).pdf
    weight = [
        quad(lambda t, k=k: t**k * (1 - t) ** (n - 1 - k) * density(t), 0, 1)[0] for k in range(n)
    ]
    values = np.zeros(n)
    for i in range(n):
        others = [p for p in range(n) if p != i]
        for k in range(n):
            for subset in combinations(others, k):
                s = frozenset(subset)
                values[i] += weight[k] * float(table[s | {i}] - table[s])
    return values


@pytest.fixture(scope="module")
def table7():
    return random_table(7, np.random.default_rng(3))


@pytest.mark.parametrize("alpha, beta", [(16, 1), (1, 4), (2.5, 0.5), (1, 1)])
def test_full_budget_matches_the_brute_force_semivalue(alpha, beta):
    n = 6
    table = random_table(n, np.random.default_rng(int(alpha * 10 + beta)))
    est = BetaShapley(alpha=alpha, beta=beta, random_state=0, budget=64).fit(table_game(table, n))
    np.testing.assert_allclose(
        est.result_.values, semivalue_by_subsets(table, n, alpha, beta), atol=1e-8
    )
    np.testing.assert_array_equal(est.result_.stderr, 0.0)


@pytest.mark.parametrize("budget", [60, 100])
def test_beta_one_one_is_stratified_shapley(table7, budget):
    beta = BetaShapley(alpha=1, beta=1, random_state=5, budget=budget).fit(table_game(table7, 7))
    shapley = StratifiedShapley(random_state=5, budget=budget).fit(table_game(table7, 7))
    np.testing.assert_allclose(beta.result_.values, shapley.result_.values, atol=1e-13)
    assert beta.allocation_ == shapley.allocation_


def test_size_weights_are_a_distribution_leaning_as_documented():
    np.testing.assert_allclose(beta_size_weights(9, 1, 1), np.full(9, 1 / 9))
    small = beta_size_weights(9, 16, 1)
    assert small.sum() == pytest.approx(1.0)
    assert (np.diff(small) < 0).all()  # α ≫ β: small coalitions weigh most
    assert (np.diff(beta_size_weights(9, 1, 16)) > 0).all()
    with pytest.raises(ValueError, match="positive"):
        BetaShapley(alpha=0, random_state=0).fit(AdditiveGame([1, 2, 3, 4]))


def test_every_semivalue_of_an_additive_game_is_the_worth():
    worths = [0.5, -0.25, 3.0, 0.0, 1.125, 2.0]
    est = BetaShapley(random_state=0, budget=64).fit(AdditiveGame(worths))
    np.testing.assert_allclose(est.result_.values, worths, atol=1e-12)
    assert est.result_.total_gain == pytest.approx(sum(worths))


def test_sampled_estimates_fall_within_their_standard_errors(table7):
    exact = semivalue_by_subsets(table7, 7, 16, 1)
    z = []
    for seed in range(30):
        result = (
            BetaShapley(alpha=16, beta=1, random_state=seed, budget=60)
            .fit(table_game(table7, 7))
            .result_
        )
        z.append(np.abs(result.values - exact) / result.stderr)
    z = np.array(z)
    assert (z <= 2).mean() >= 0.85
    assert (z <= 4).mean() >= 0.99


def test_chunked_equals_unchunked_and_seeds_repeat(table7):
    est = BetaShapley(random_state=2, budget=70)
    whole = est.fit(table_game(table7, 7)).result_
    again = BetaShapley(random_state=2, budget=70).fit(table_game(table7, 7)).result_
    np.testing.assert_array_equal(whole.values, again.values)
    chunks = [(0, 33), (33, 70)]
    partials = [est.fit_chunk(table_game(table7, 7), start=a, stop=b) for a, b in chunks]
    np.testing.assert_array_equal(est.reduce(sum(partials)).values, whole.values)
