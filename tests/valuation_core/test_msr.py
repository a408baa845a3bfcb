"""BanzhafMSR: each sample is a complementary pair informing every player; unbiased."""

import numpy as np
import pytest

from tests.valuation_core.oracles import (
    RecordingGame,
    as_floats,
    banzhaf_by_subsets,
    random_table,
    table_game,
)
from valuation.core import BanzhafMSR, ExactBanzhaf, MaxEvaluations, MaxSamples, fit_chunked
from valuation.core.games import WeightedVotingGame


@pytest.fixture(scope="module")
def table6():
    return random_table(6, np.random.default_rng(21))


def test_one_sample_is_a_complementary_pair_informing_every_player(table6):
    for j in range(20):
        game = RecordingGame(6, table6.__getitem__)
        one = BanzhafMSR(random_state=1).fit_chunk(game, start=j, stop=j + 1)
        assert len(game.calls) == 2
        first, second = (frozenset(c) for c in game.calls)
        assert first | second == frozenset(range(6)) and not first & second
        gap = float(table6[first] - table6[second])
        expected = [gap if i in first else -gap for i in range(6)]
        np.testing.assert_allclose(one.values, expected, atol=1e-15)
        np.testing.assert_array_equal(one.counts, 1)


def test_unbiased_for_the_exact_banzhaf_values(table6):
    exact = as_floats(banzhaf_by_subsets(table6.__getitem__, 6))
    result = BanzhafMSR(random_state=0, stop=MaxSamples(3000)).fit(table_game(table6, 6)).result_
    # 3000 pairs from 64 coalitions: the mean is within a few standard errors of exact.
    assert (np.abs(result.values - exact) <= 4 * result.stderr).all()
    assert (result.stderr < 0.05).all()


def test_known_banzhaf_values_of_a_voting_game():
    game = WeightedVotingGame([3, 2, 2, 1, 1], 5)
    exact = as_floats(list(game.banzhaf_values()))
    result = BanzhafMSR(random_state=3, stop=MaxSamples(2000)).fit(game).result_
    assert (np.abs(result.values - exact) <= 4 * result.stderr + 1e-12).all()


def test_error_shrinks_like_one_over_root_samples(table6):
    exact = ExactBanzhaf().fit(table_game(table6, 6)).result_.values

    def rmse(samples):
        runs = [
            BanzhafMSR(random_state=s, stop=MaxSamples(samples)).fit(table_game(table6, 6))
            for s in range(20)
        ]
        return np.sqrt(np.mean([(r.result_.values - exact) ** 2 for r in runs]))

    assert rmse(400) < 0.7 * rmse(100)


def test_cost_seeds_and_chunks(table6):
    game = RecordingGame(6, table6.__getitem__)
    est = BanzhafMSR(random_state=4, stop=MaxEvaluations(40)).fit(game)
    assert len(game.calls) == len(set(game.calls)) == est.n_utility_evaluations_
    assert 40 <= est.n_utility_evaluations_ <= 41
    one = BanzhafMSR(random_state=4, stop=MaxSamples(30))
    whole = one.fit(table_game(table6, 6)).result_
    again = BanzhafMSR(random_state=4, stop=MaxSamples(30)).fit(table_game(table6, 6)).result_
    np.testing.assert_array_equal(whole.values, again.values)
    chunked = fit_chunked(one, table_game(table6, 6), chunks=[(0, 7), (7, 19), (19, 30)])
    np.testing.assert_allclose(chunked.values, whole.values, atol=1e-14)
    np.testing.assert_allclose(chunked.stderr, whole.stderr, atol=1e-14)
