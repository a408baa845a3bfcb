"""PermutationShapley: telescoping, truncation, antithetic pairs, cost, seeds, convergence."""

import numpy as np
import pytest

from tests.valuation_core.oracles import (
    RecordingGame,
    as_floats,
    random_table,
    shapley_by_permutations,
    table_game,
)
from valuation.core import ExactShapley, MaxSamples, PermutationShapley, sample_rng
from valuation.core.games import WeightedVotingGame, three_player_game


def walk(table, order, tolerance=None):
    """Marginals along ``order``, truncated as documented; written from the definition."""
    full = float(table[frozenset(range(len(order)))])
    marginals = np.zeros(len(order))
    prefix = frozenset()
    for player in order:
        marginals[player] = float(table[prefix | {player}]) - float(table[prefix])
        prefix = prefix | {player}
        if tolerance is not None and abs(float(table[prefix]) - full) <= tolerance:
            break
    return marginals, prefix


@pytest.fixture(scope="module")
def table7():
    return random_table(7, np.random.default_rng(42))


def test_each_untruncated_permutation_is_exactly_efficient(table7):
    estimator = PermutationShapley(random_state=5)
    gain = float(table7[frozenset(range(7))]) - float(table7[frozenset()])
    for j in range(25):
        one = estimator.fit_chunk(table_game(table7, 7), start=j, stop=j + 1)
        assert one.values.sum() == pytest.approx(gain, abs=1e-12)
        assert one.efficiency_gap == pytest.approx(0.0, abs=1e-12)
        expected, _ = walk(table7, sample_rng(5, j).permutation(7))
        np.testing.assert_allclose(one.values, expected, atol=1e-15)


@pytest.mark.parametrize("tolerance", [0.0, 0.1, 0.5])
def test_truncated_permutations_telescope_to_the_prefix(table7, tolerance):
    estimator = PermutationShapley(random_state=8, truncation=tolerance)
    empty = float(table7[frozenset()])
    for j in range(25):
        one = estimator.fit_chunk(table_game(table7, 7), start=j, stop=j + 1)
        expected, prefix = walk(table7, sample_rng(8, j).permutation(7), tolerance)
        np.testing.assert_allclose(one.values, expected, atol=1e-15)
        assert one.values.sum() == pytest.approx(float(table7[prefix]) - empty, abs=1e-12)


def test_antithetic_sample_averages_an_order_and_its_reverse(table7):
    estimator = PermutationShapley(random_state=3, antithetic=True)
    gain = float(table7[frozenset(range(7))]) - float(table7[frozenset()])
    for j in range(10):
        one = estimator.fit_chunk(table_game(table7, 7), start=j, stop=j + 1)
        order = sample_rng(3, j).permutation(7)
        expected = (walk(table7, order)[0] + walk(table7, order[::-1])[0]) / 2
        np.testing.assert_allclose(one.values, expected, atol=1e-15)
        assert one.values.sum() == pytest.approx(gain, abs=1e-12)


def test_no_coalition_is_evaluated_twice_and_a_permutation_costs_at_most_n(table7):
    game = RecordingGame(7, table7.__getitem__)
    estimator = PermutationShapley(random_state=0, stop=MaxSamples(60)).fit(game)
    assert len(game.calls) == len(set(game.calls)) == estimator.n_utility_evaluations_
    # U(∅) once per run, then at most n new coalitions per permutation.
    assert estimator.n_utility_evaluations_ <= 1 + 60 * 7
    single = RecordingGame(7, table7.__getitem__)
    PermutationShapley(random_state=0).fit_chunk(single, start=0, stop=1)
    assert len(single.calls) == 1 + 7


def test_seed_reproducibility(table7):
    def run(seed):
        return PermutationShapley(random_state=seed, stop=MaxSamples(30), truncation=0.05)

    estimator = run(11)
    first = estimator.fit(table_game(table7, 7)).result_
    again = estimator.fit(table_game(table7, 7)).result_
    other = run(11).fit(table_game(table7, 7)).result_
    for result in (again, other):
        np.testing.assert_array_equal(result.values, first.values)
        np.testing.assert_array_equal(result.stderr, first.stderr)
    assert estimator.seed_ == 11 and estimator.n_samples_ == 30
    assert not np.array_equal(run(12).fit(table_game(table7, 7)).result_.values, first.values)
    fresh = PermutationShapley(stop=MaxSamples(3)).fit(table_game(table7, 7))
    assert isinstance(fresh.seed_, int)


def test_three_player_oracle_o1_converges():
    estimator = PermutationShapley(random_state=2, stop=MaxSamples(400)).fit(three_player_game())
    result = estimator.result_
    expected = np.array([0.35, 0.35, 0.0])
    assert np.all(np.abs(result.values - expected) <= 3 * result.stderr + 1e-15)
    # The null player's marginal is 0 in every permutation.
    assert result.values[2] == 0.0 and result.stderr[2] == 0.0
    # At most 8 coalitions exist; the memo never pays twice.
    assert estimator.n_utility_evaluations_ == 8


def test_estimates_fall_within_their_stderr_at_the_expected_rate():
    within = []
    errors = {100: [], 1600: []}
    stderrs = {100: [], 1600: []}
    for seed in range(5):
        table = random_table(6, np.random.default_rng([7, seed]))
        exact = as_floats(shapley_by_permutations(table.__getitem__, 6))
        for n_samples in (100, 1600):
            estimator = PermutationShapley(random_state=seed, stop=MaxSamples(n_samples))
            result = estimator.fit(table_game(table, 6)).result_
            errors[n_samples].append(np.abs(result.values - exact))
            stderrs[n_samples].append(result.stderr.mean())
        within.extend(errors[1600][-1] <= 3 * result.stderr)
    assert np.mean(within) >= 0.9
    # stderr ∝ 1/sqrt(samples): 16 times the samples, a quarter of the error bar.
    rate = np.array(stderrs[1600]) / np.array(stderrs[100])
    assert np.all((rate > 0.2) & (rate < 0.3))
    assert np.mean(errors[1600]) < np.mean(errors[100]) / 2


def test_permutation_agrees_with_exact_on_a_voting_game():
    game = WeightedVotingGame([5, 4, 3, 2, 2, 1, 1], 10)
    exact = ExactShapley().fit(game).result_.values
    estimate = PermutationShapley(random_state=0, stop=MaxSamples(2000), antithetic=True).fit(game)
    result = estimate.result_
    assert np.mean(np.abs(result.values - exact) <= 3 * result.stderr) >= 0.85
    assert result.efficiency_gap == pytest.approx(0.0, abs=1e-12)


def test_invalid_parameters_are_refused(table7):
    with pytest.raises(ValueError, match="truncation"):
        PermutationShapley(random_state=0, truncation=-1.0).fit(table_game(table7, 7))
    with pytest.raises(ValueError, match="random_state"):
        PermutationShapley(random_state=1.5).fit(table_game(table7, 7))
    with pytest.raises(ValueError, match="valid and baseline must be None"):
        PermutationShapley().fit(table_game(table7, 7), valid=table_game(table7, 7))
    with pytest.raises(ValueError, match="Dataset or a Game"):
        PermutationShapley().fit([[1.0]])
