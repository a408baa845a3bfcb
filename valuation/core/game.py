"""Cooperative games: players, a utility over coalitions, a cache and an evaluation count.

A coalition is a set of player indices. Callers may pass it as a sorted tuple, a frozenset
or any iterable of ints; internally it is named by its bit mask (``sum(1 << i)``), an int
that is cheap to build one player at a time. Caches key it by :func:`coalition_key`: the
mask itself for games of up to 128 players, a 128-bit digest of it beyond (the mask of a
game whose players are a million rows is 122 KiB; kept for every coalition of a job it
would be gigabytes).

Two layers of memory keep a run from paying twice for a coalition:

* the game's :class:`UtilityCache` (``InMemoryCache`` by default; the app's workers keep
  one per job and process, so the chunks of a job on one process share their fits) —
  shared by every run on the same game, it may forget or be warm already;
* a :class:`RunUtility` per run — it remembers every coalition that run needed, so no
  coalition is evaluated twice within a run, and its count of distinct coalitions is the
  run's deterministic cost whatever the state of the shared cache.
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

#: Coalitions up to this many players are converted bit by bit; larger ones through numpy
#: (bit by bit, each shift copies the whole integer: a million-row mask took half a minute).
_SMALL_COALITION = 64


def coalition_mask(players: Iterable[int]) -> int:
    """Bit mask of a coalition: bit ``i`` is set when player ``i`` is in it."""
    if isinstance(players, np.ndarray):
        chosen = players.astype(np.int64, copy=False).ravel()
    else:
        members = [int(player) for player in players]
        if len(members) <= _SMALL_COALITION:
            mask = 0
            for player in members:
                mask |= 1 << player
            return mask
        chosen = np.array(members, dtype=np.int64)
    if chosen.size == 0:
        return 0
    if chosen.min() < 0:
        raise ValueError(f"negative player index {int(chosen.min())}")
    indicator = np.zeros(int(chosen.max()) + 1, dtype=bool)
    indicator[chosen] = True
    return int.from_bytes(np.packbits(indicator, bitorder="little").tobytes(), "little")


#: Masks below this are their own cache key; wider ones are keyed by a digest.
_KEY_LIMIT = 1 << 128


def coalition_key(mask: int) -> int:
    """The key caches keep coalition ``mask`` under: the mask when it is below ``2**128``,
    otherwise ``2**128 +`` its 128-bit BLAKE2b digest (so the two kinds never meet; two
    wide masks share a key with probability about ``2**-128``)."""
    if mask < _KEY_LIMIT:
        return mask
    raw = mask.to_bytes((mask.bit_length() + 7) // 8, "little")
    return _KEY_LIMIT + int.from_bytes(hashlib.blake2b(raw, digest_size=16).digest(), "little")


def mask_players(mask: int) -> tuple[int, ...]:
    """Sorted player indices of a bit mask (inverse of :func:`coalition_mask`)."""
    if mask < 0:
        raise ValueError("a coalition mask is a non-negative integer")
    if mask.bit_length() <= _SMALL_COALITION:
        return tuple(i for i in range(mask.bit_length()) if mask >> i & 1)
    raw = np.frombuffer(mask.to_bytes((mask.bit_length() + 7) // 8, "little"), dtype=np.uint8)
    return tuple(np.flatnonzero(np.unpackbits(raw, bitorder="little")).tolist())


@runtime_checkable
class UtilityCache(Protocol):
    """Where a game keeps utilities it has already computed, keyed by :func:`coalition_key`.

    An implementation may be shared between processes (Redis) and may evict entries; it
    must only ever return a value previously ``set`` for the same key of the same game, so
    a shared backend needs a key prefix per game (e.g. per valuation job).
    """

    def get(self, key: int) -> float | None:
        """Return the cached utility of coalition ``key`` or None."""
        ...

    def set(self, key: int, value: float) -> None:
        """Store the utility of coalition ``key``."""
        ...


class InMemoryCache:
    """A dict-backed :class:`UtilityCache` (the default; one process, no eviction)."""

    def __init__(self) -> None:
        self._values: dict[int, float] = {}

    def get(self, key: int) -> float | None:
        return self._values.get(key)

    def set(self, key: int, value: float) -> None:
        self._values[key] = value

    def __len__(self) -> int:
        return len(self._values)


class Game(abc.ABC):
    """A cooperative game over ``n_players`` players with a utility (higher is better).

    Subclasses implement :meth:`_evaluate`; callers use :meth:`utility` or
    :meth:`utility_of_mask`, which consult the cache first and count real evaluations.

    Parameters
    ----------
    n_players : int
        Number of players, at least 1.
    names : sequence of str, optional
        One display name per player; default ``"0", "1", ...`` (built when first read).
    cache : UtilityCache, optional
        Where evaluated utilities are kept; default a fresh :class:`InMemoryCache`.

    Attributes
    ----------
    n_evaluations : int
        Number of times :meth:`_evaluate` ran (cache misses) over the game's lifetime.
    """

    def __init__(
        self,
        n_players: int,
        names: Sequence[str] | None = None,
        cache: UtilityCache | None = None,
    ) -> None:
        if n_players < 1:
            raise ValueError(f"a game needs at least one player, got n_players={n_players}")
        self.n_players = int(n_players)
        self._names = None if names is None else np.array([str(n) for n in names], dtype=object)
        if self._names is not None and self._names.shape[0] != self.n_players:
            raise ValueError(f"{self._names.shape[0]} names for {self.n_players} players")
        self.cache = InMemoryCache() if cache is None else cache
        self.n_evaluations = 0

    @property
    def names(self) -> np.ndarray:
        """One name per player (object array of str); by position unless given, built when
        first read (the players of a row game can be a million rows)."""
        if self._names is None:
            self._names = np.array([str(i) for i in range(self.n_players)], dtype=object)
        return self._names

    @property
    def grand_mask(self) -> int:
        """Bit mask of the grand coalition (all players)."""
        return (1 << self.n_players) - 1

    def utility(self, coalition: Iterable[int]) -> float:
        """Utility of a coalition given as a sorted tuple, frozenset or iterable of ints."""
        players = tuple(sorted({int(p) for p in coalition}))
        if players and (players[0] < 0 or players[-1] >= self.n_players):
            raise ValueError(f"player indices must lie in [0, {self.n_players}); got {players}")
        return self.utility_of_mask(coalition_mask(players), players)

    def utility_of_mask(self, mask: int, players: tuple[int, ...] | None = None) -> float:
        """Utility of the coalition with bit mask ``mask``.

        Parameters
        ----------
        mask : int
            Coalition bit mask, ``0 <= mask <= grand_mask``.
        players : tuple of int, optional
            The same coalition as a sorted tuple, when the caller has it already (saves
            decoding the mask on a cache miss).
        """
        if not 0 <= mask <= self.grand_mask:
            raise ValueError(f"coalition mask {mask} is outside a {self.n_players}-player game")
        key = coalition_key(mask)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        value = float(self._evaluate(mask_players(mask) if players is None else players))
        self.n_evaluations += 1
        self.cache.set(key, value)
        return value

    @abc.abstractmethod
    def _evaluate(self, players: tuple[int, ...]) -> float:
        """Compute the utility of the coalition ``players`` (sorted, unique, in range)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_players={self.n_players})"


class RunUtility:
    """The utility as seen by one run: every coalition evaluated at most once, and counted.

    Parameters
    ----------
    game : Game
        The game the run values.

    Attributes
    ----------
    n_evaluations : int
        Distinct coalitions this run has needed. It equals the model fits of the run on a
        cold cache and does not depend on what a shared cache already held, so stopping
        rules based on it keep a seeded run reproducible.
    """

    def __init__(self, game: Game) -> None:
        self.game = game
        self._values: dict[int, float] = {}

    @property
    def n_evaluations(self) -> int:
        return len(self._values)

    def __call__(self, mask: int, players: tuple[int, ...] | None = None) -> float:
        """Utility of coalition ``mask`` (see :meth:`Game.utility_of_mask`)."""
        key = coalition_key(mask)
        value = self._values.get(key)
        if value is None:
            value = self.game.utility_of_mask(mask, players)
            self._values[key] = value
        return value
