"""ExactShapley, ExactBanzhaf and LeaveOneOut against brute force, oracle O1 and the axioms."""

from fractions import Fraction

import numpy as np
import pytest

from tests.valuation_core.oracles import (
    RecordingGame,
    as_floats,
    banzhaf_by_subsets,
    leave_one_out,
    random_table,
    shapley_by_permutations,
    table_game,
)
from valuation.core import ExactBanzhaf, ExactShapley, Game, LeaveOneOut
from valuation.core.games import (
    AdditiveGame,
    AirportGame,
    GloveGame,
    TableGame,
    WeightedVotingGame,
    three_player_game,
)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_methods_match_brute_force_on_random_games(n, seed):
    table = random_table(n, np.random.default_rng([n, seed]))

    def utility(s):
        return table[s]

    shapley = ExactShapley().fit(table_game(table, n)).result_
    banzhaf = ExactBanzhaf().fit(table_game(table, n)).result_
    loo = LeaveOneOut().fit(table_game(table, n)).result_
    np.testing.assert_allclose(
        shapley.values, as_floats(shapley_by_permutations(utility, n)), atol=1e-12
    )
    np.testing.assert_allclose(
        banzhaf.values, as_floats(banzhaf_by_subsets(utility, n)), atol=1e-12
    )
    np.testing.assert_allclose(loo.values, as_floats(leave_one_out(utility, n)), atol=1e-12)
    assert np.all(shapley.stderr == 0) and np.all(loo.stderr == 0)


def test_three_player_table_oracle_o1():
    expected_shapley = [Fraction(7, 20), Fraction(7, 20), Fraction(0)]
    expected_loo = [Fraction(1, 5), Fraction(1, 5), Fraction(0)]
    game = three_player_game()
    assert list(game.shapley_values()) == expected_shapley
    assert list(game.loo_values()) == expected_loo
    result = ExactShapley().fit(game).result_
    np.testing.assert_allclose(result.values, as_floats(expected_shapley), atol=1e-15)
    assert result.efficiency_gap == pytest.approx(0.0, abs=1e-15)
    assert result.total_gain == pytest.approx(0.7)
    loo = LeaveOneOut().fit(three_player_game()).result_
    np.testing.assert_allclose(loo.values, as_floats(expected_loo), atol=1e-15)
    assert loo.total_gain is None


@pytest.mark.parametrize(
    "game",
    [
        WeightedVotingGame([50, 49, 1], 51),
        WeightedVotingGame([4, 3, 3, 2, 1, 1, 1, 5, 2], 11),
        AirportGame([1, 2, 3]),
        AirportGame([4, 1, 7, 1, 3, 9, 2, 5]),
        GloveGame(1, 2),
        GloveGame(3, 5),
        AdditiveGame([0.5, -0.25, 3.0, 0.0, 1.125]),
    ],
    ids=repr,
)
def test_exact_shapley_equals_known_answers(game):
    result = ExactShapley().fit(game).result_
    np.testing.assert_allclose(result.values, as_floats(list(game.shapley_values())), atol=1e-12)
    assert result.efficiency_gap == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    "game", [WeightedVotingGame([3, 2, 2, 1, 1], 5), AdditiveGame([1.5, -2.0, 0.25])], ids=repr
)
def test_exact_banzhaf_equals_known_answers(game):
    result = ExactBanzhaf().fit(game).result_
    np.testing.assert_allclose(result.values, as_floats(list(game.banzhaf_values())), atol=1e-12)


def test_efficiency_is_exact_on_a_sixteen_player_game():
    rng = np.random.default_rng(3)
    worths = rng.normal(size=16)

    class Interacting(Game):
        def _evaluate(self, players):
            x = worths[list(players)]
            return float(np.sum(x) + 0.3 * np.sin(np.sum(x) * len(players)))

    result = ExactShapley().fit(Interacting(16)).result_
    assert abs(result.efficiency_gap) < 1e-12


def test_symmetry_and_null_player():
    rng = np.random.default_rng(5)
    by_size = rng.normal(size=7)

    def utility(players):
        # Players 0..4 are interchangeable; player 5 never changes anything.
        return float(by_size[len([p for p in players if p != 5])])

    game = RecordingGame(6, utility)
    values = ExactShapley().fit(game).result_.values
    np.testing.assert_allclose(values[:5], values[0], atol=1e-14)
    assert values[5] == pytest.approx(0.0, abs=1e-14)
    banzhaf = ExactBanzhaf().fit(RecordingGame(6, utility)).result_.values
    assert banzhaf[5] == pytest.approx(0.0, abs=1e-14)


def test_additivity():
    rng = np.random.default_rng(11)
    first, second = random_table(5, rng), random_table(5, rng)
    combined = {s: first[s] + second[s] for s in first}
    values = [ExactShapley().fit(table_game(t, 5)).result_.values for t in (first, second)]
    np.testing.assert_allclose(
        ExactShapley().fit(table_game(combined, 5)).result_.values,
        values[0] + values[1],
        atol=1e-12,
    )


def test_every_coalition_is_evaluated_exactly_once():
    game = RecordingGame(5, lambda s: float(len(s) ** 2))
    estimator = ExactShapley().fit(game)
    assert estimator.n_utility_evaluations_ == 32
    assert sorted(game.calls) == sorted(set(game.calls)) and len(game.calls) == 32
    assert estimator.utility_table_.is_complete()


def test_utility_table_hands_coalition_utilities_to_pricing():
    game = three_player_game()
    table = ExactShapley().fit(game).utility_table_
    utilities = table.coalition_utilities()
    assert len(utilities) == 8
    assert utilities[frozenset({0, 1})] == pytest.approx(0.7)
    assert utilities[frozenset()] == 0.0
    # The same table reduces to Banzhaf values without new evaluations.
    banzhaf = ExactBanzhaf().reduce(table)
    np.testing.assert_allclose(banzhaf.values, [0.35, 0.35, 0.0], atol=1e-15)


def test_max_players_is_enforced_with_a_clear_error():
    game = AdditiveGame([1.0] * 17)
    with pytest.raises(ValueError, match="max_players=16"):
        ExactShapley().fit(game)
    with pytest.raises(ValueError, match="max_players=3"):
        ExactBanzhaf(max_players=3).n_units(AdditiveGame([1.0] * 4))
    assert ExactShapley(max_players=17).n_units(game) == 2**17


def test_leave_one_out_uses_n_plus_one_coalitions():
    game = RecordingGame(4, lambda s: float(sum(s) ** 2))
    estimator = LeaveOneOut().fit(game)
    assert estimator.n_utility_evaluations_ == 5
    assert sorted(game.calls) == sorted([(0, 1, 2, 3), (1, 2, 3), (0, 2, 3), (0, 1, 3), (0, 1, 2)])
    np.testing.assert_allclose(estimator.result_.values, [36 - 36, 36 - 25, 36 - 16, 36 - 9])


def test_table_game_reports_missing_coalitions():
    game = TableGame({(): 0.0, (0,): 1.0}, 2)
    with pytest.raises(ValueError, match="no entry"):
        ExactShapley().fit(game)
