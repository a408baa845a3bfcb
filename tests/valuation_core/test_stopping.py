"""Stopping rules: semantics, completion fractions, composition, and in a real run."""

import numpy as np
import pytest

from tests.valuation_core.oracles import random_table, table_game
from valuation.core import (
    MaxEvaluations,
    MaxSamples,
    PermutationShapley,
    RankStable,
    RunState,
    StandardErrorBelow,
    ValuationResult,
)


def state(n_samples=0, n_evaluations=0, counts=(10, 10), stderr=(0.1, 0.1), rankings=()):
    counts = np.array(counts)
    # sum_sq_dev chosen so that stderr comes out as requested.
    sum_sq_dev = np.array(stderr) ** 2 * counts * (counts - 1)
    result = ValuationResult([0.0, 0.0], counts, ["a", "b"], sum_sq_dev=sum_sq_dev, method="m")
    return RunState(result, n_samples, n_evaluations, tuple(np.array(r) for r in rankings))


def test_max_samples_and_max_evaluations():
    rule = MaxSamples(10)
    assert not rule.done(state(n_samples=9)) and rule.completion(state(n_samples=5)) == 0.5
    assert rule.done(state(n_samples=10)) and rule.completion(state(n_samples=12)) == 1.0
    budget = MaxEvaluations(4)
    assert not budget.done(state(n_evaluations=3)) and budget.done(state(n_evaluations=4))
    with pytest.raises(ValueError):
        MaxSamples(0)


def test_standard_error_below_needs_both_samples_and_precision():
    rule = StandardErrorBelow(0.05, min_samples=20)
    assert not rule.done(state(counts=(30, 30), stderr=(0.1, 0.01)))
    assert not rule.done(state(counts=(19, 30), stderr=(0.01, 0.01)))
    assert rule.done(state(counts=(20, 30), stderr=(0.05, 0.01)))
    # Four times the samples halve the error: completion (0.05 / 0.1)^2 = 1/4.
    assert rule.completion(state(counts=(30, 30), stderr=(0.1, 0.01))) == pytest.approx(0.25)
    assert rule.completion(state(counts=(10, 30), stderr=(0.01, 0.01))) == pytest.approx(0.5)
    assert rule.completion(state(counts=(1, 1), stderr=(0, 0))) == 0.0
    assert rule.completion(state(counts=(20, 30), stderr=(0.05, 0.01))) == 1.0


def test_rank_stable_counts_consecutive_unchanged_rankings():
    rule = RankStable(patience=2)
    assert rule.history_length == 3
    assert not rule.done(state(rankings=[[0, 1], [1, 0], [1, 0]]))
    assert rule.completion(state(rankings=[[0, 1], [1, 0], [1, 0]])) == 0.5
    assert rule.done(state(rankings=[[1, 0], [1, 0], [1, 0]]))
    top = RankStable(patience=1, top_k=1)
    assert top.done(state(rankings=[[0, 1, 2], [0, 2, 1]]))
    assert not RankStable(patience=1).done(state(rankings=[[0, 1, 2], [0, 2, 1]]))


@pytest.mark.parametrize(("first", "second"), [(False, False), (False, True), (True, True)])
def test_or_and_composition(first, second):
    a = MaxSamples(5)
    b = MaxEvaluations(5)
    run = state(n_samples=5 if first else 1, n_evaluations=5 if second else 3)
    assert (a | b).done(run) == (first or second)
    assert (a & b).done(run) == (first and second)
    assert (a | b).completion(run) == max(a.completion(run), b.completion(run))
    assert (a & b).completion(run) == min(a.completion(run), b.completion(run))
    assert (a | (b & RankStable(patience=4))).history_length == 5


def test_rules_stop_a_real_run_where_they_say():
    game = table_game(random_table(5, np.random.default_rng(0)), 5)
    n = game.n_players

    budget = PermutationShapley(random_state=1, stop=MaxEvaluations(20)).fit(game)
    # Checked after each permutation, which costs at most n new coalitions.
    assert 20 <= budget.n_utility_evaluations_ < 20 + n

    precise = PermutationShapley(random_state=1, stop=StandardErrorBelow(0.05, min_samples=10))
    precise.fit(table_game(random_table(5, np.random.default_rng(0)), 5))
    assert precise.result_.stderr.max() <= 0.05 and precise.n_samples_ >= 10

    capped = PermutationShapley(random_state=1, stop=StandardErrorBelow(1e-9) | MaxSamples(7))
    assert capped.fit(game).n_samples_ == 7

    stable = PermutationShapley(random_state=1, stop=RankStable(patience=5) | MaxSamples(10_000))
    stable.fit(game)
    assert stable.n_samples_ < 10_000


def test_max_evaluations_stops_a_small_game_that_has_fewer_coalitions_than_the_budget():
    from valuation.core.games import three_player_game
    from valuation.core.methods import PermutationShapley

    estimator = PermutationShapley(random_state=0, stop=MaxEvaluations(1000))
    estimator.fit(three_player_game())
    assert estimator.n_utility_evaluations_ == 8
