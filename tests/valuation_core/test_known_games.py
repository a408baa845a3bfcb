"""The known-answer games' closed forms against brute force and the literature."""

from fractions import Fraction

import numpy as np
import pytest

from tests.valuation_core.oracles import banzhaf_by_subsets, shapley_by_permutations
from valuation.core.games import (
    AdditiveGame,
    AirportGame,
    GloveGame,
    WeightedVotingGame,
    three_player_game,
)


def exact_utility(game):
    """The game's utility as exact fractions (its float utilities are exact here)."""
    return lambda s: Fraction(game.utility(s))


@pytest.mark.parametrize(
    ("game", "expected"),
    [
        # Classic textbook values.
        (WeightedVotingGame([50, 49, 1], 51), (Fraction(2, 3), Fraction(1, 6), Fraction(1, 6))),
        (GloveGame(1, 2), (Fraction(2, 3), Fraction(1, 6), Fraction(1, 6))),
        (AirportGame([1, 2, 3]), (Fraction(1, 3), Fraction(5, 6), Fraction(11, 6))),
        (AdditiveGame([2, -1, 0]), (Fraction(2), Fraction(-1), Fraction(0))),
    ],
    ids=repr,
)
def test_closed_forms_match_textbook_values(game, expected):
    assert game.shapley_values() == expected


@pytest.mark.parametrize("seed", range(4))
def test_weighted_voting_counts_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    weights = rng.integers(0, 6, size=6).tolist()
    quota = int(rng.integers(1, sum(weights) + 2))
    game = WeightedVotingGame(weights, quota)
    utility = exact_utility(game)
    assert list(game.shapley_values()) == shapley_by_permutations(utility, 6)
    assert list(game.banzhaf_values()) == banzhaf_by_subsets(utility, 6)


@pytest.mark.parametrize("seed", range(3))
def test_airport_shares_match_brute_force(seed):
    costs = np.random.default_rng(seed).integers(0, 10, size=6).tolist()
    game = AirportGame(costs)
    assert list(game.shapley_values()) == shapley_by_permutations(exact_utility(game), 6)


@pytest.mark.parametrize(("left", "right"), [(0, 3), (1, 1), (2, 3), (4, 2), (3, 3)])
def test_glove_values_match_brute_force(left, right):
    game = GloveGame(left, right)
    values = list(game.shapley_values())
    assert values == shapley_by_permutations(exact_utility(game), left + right)
    assert sum(values) == min(left, right)


def test_additive_game_values_are_the_worths():
    worths = [Fraction(3, 4), Fraction(-5, 8), Fraction(1, 16)]
    game = AdditiveGame(worths)
    assert list(game.shapley_values()) == shapley_by_permutations(exact_utility(game), 3)
    assert list(game.banzhaf_values()) == worths


def test_three_player_table_matches_brute_force():
    game = three_player_game()
    table = {
        frozenset(): Fraction(0),
        frozenset({0}): Fraction(1, 2),
        frozenset({1}): Fraction(1, 2),
        frozenset({2}): Fraction(0),
        frozenset({0, 1}): Fraction(7, 10),
        frozenset({0, 2}): Fraction(1, 2),
        frozenset({1, 2}): Fraction(1, 2),
        frozenset({0, 1, 2}): Fraction(7, 10),
    }
    for coalition, value in table.items():
        assert game.utility(coalition) == float(value)
    assert list(game.shapley_values()) == shapley_by_permutations(table.__getitem__, 3)


def test_invalid_games_are_refused():
    with pytest.raises(ValueError):
        WeightedVotingGame([1, -2], 1)
    with pytest.raises(ValueError):
        WeightedVotingGame([1, 2], 0)
    with pytest.raises(ValueError):
        AirportGame([1, -1])
