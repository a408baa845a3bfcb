"""Game: coalition normalisation, caching behind the UtilityCache protocol, counting."""

import numpy as np
import pytest

from valuation.core import (
    Game,
    InMemoryCache,
    RunUtility,
    UtilityCache,
    coalition_key,
    coalition_mask,
    mask_players,
)


class SquareOfSum(Game):
    def _evaluate(self, players):
        return float(sum(players) ** 2)


class DictCache:
    """A minimal third-party cache, as the app's Redis one would be."""

    def __init__(self):
        self.store = {}
        self.writes = 0

    def get(self, key):
        return self.store.get(key)

    def set(self, key, value):
        self.writes += 1
        self.store[key] = value


def test_coalition_forms_are_equivalent_and_evaluated_once():
    game = SquareOfSum(4)
    forms = [(1, 3), frozenset({3, 1}), [3, 1, 1], np.array([3, 1])]
    assert {game.utility(form) for form in forms} == {16.0}
    assert game.n_evaluations == 1
    assert game.utility_of_mask(0b1010) == 16.0 and game.n_evaluations == 1


def test_masks_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(50):
        players = tuple(sorted(set(rng.integers(0, 300, size=int(rng.integers(0, 20))).tolist())))
        assert mask_players(coalition_mask(players)) == players


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 500, 5_000])
def test_masks_of_any_size_are_the_sum_of_their_bits(size):
    rng = np.random.default_rng(size)
    drawn = rng.integers(0, 3 * size + 1, size=size).tolist()  # repeats and any order
    expected = sum(1 << p for p in set(drawn))
    assert coalition_mask(drawn) == expected
    assert mask_players(expected) == tuple(sorted(set(drawn)))
    with pytest.raises(ValueError):
        coalition_mask([*drawn, -1])
    with pytest.raises(ValueError):
        mask_players(-expected - 1)


def test_cache_protocol_and_a_shared_cache():
    cache = DictCache()
    assert isinstance(cache, UtilityCache) and isinstance(InMemoryCache(), UtilityCache)
    first = SquareOfSum(3, cache=cache)
    for coalition in [(), (0,), (1, 2), (1, 2)]:
        first.utility(coalition)
    assert first.n_evaluations == 3 and cache.writes == 3
    # A second game on the same (warm) cache pays for nothing it has seen.
    second = SquareOfSum(3, cache=cache)
    assert second.utility((2, 1)) == 9.0 and second.n_evaluations == 0


def test_run_utility_counts_distinct_coalitions_whatever_the_cache():
    cache = DictCache()
    warm = SquareOfSum(3, cache=cache)
    for mask in range(8):
        warm.utility_of_mask(mask)
    run = RunUtility(SquareOfSum(3, cache=cache))
    for mask in [0, 3, 3, 5, 0, 7]:
        run(mask)
    assert run.n_evaluations == 4 and run.game.n_evaluations == 0


def test_wide_coalitions_are_cached_under_a_bounded_key():
    n = 1000
    cache = DictCache()
    game = SquareOfSum(n, cache=cache)
    rng = np.random.default_rng(1)
    coalitions = [tuple(sorted(rng.choice(n, 400, replace=False).tolist())) for _ in range(20)]
    values = [game.utility(c) for c in coalitions]
    assert values == [float(sum(c) ** 2) for c in coalitions]
    assert game.n_evaluations == 20 and len(cache.store) == 20
    # 1000-bit masks are kept under 129-bit keys, found again, and apart from narrow masks.
    assert all(2**128 <= key < 2**129 for key in cache.store)
    assert game.utility(coalitions[3]) == values[3] and game.n_evaluations == 20
    assert [coalition_key(m) for m in (0, 0b1011, 2**128 - 1)] == [0, 0b1011, 2**128 - 1]
    assert coalition_key(2**128) >= 2**128 and coalition_key(2**128) != coalition_key(2**129)
    run = RunUtility(game)
    assert run(coalition_mask(coalitions[0])) == values[0] and run.n_evaluations == 1


def test_invalid_games_and_coalitions_are_refused():
    game = SquareOfSum(3, names=["a", "b", "c"])
    assert game.names.tolist() == ["a", "b", "c"] and game.grand_mask == 7
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        game.utility([3])
    with pytest.raises(ValueError, match="outside"):
        game.utility_of_mask(8)
    with pytest.raises(ValueError):
        SquareOfSum(0)
    with pytest.raises(ValueError):
        SquareOfSum(2, names=["only one"])
