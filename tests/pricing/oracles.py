"""Independent oracles for the pricing tests: brute-force Shapley and small synthetic games."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np


def shapley_by_permutations(
    players: Sequence[str], v: Callable[[frozenset[str]], float]
) -> dict[str, float]:
    """Exact Shapley values as the average marginal contribution over every ordering."""
    totals = dict.fromkeys(players, 0.0)
    orders = list(itertools.permutations(players))
    for order in orders:
        coalition: frozenset[str] = frozenset()
        before = v(coalition)
        for p in order:
            coalition = coalition | {p}
            after = v(coalition)
            totals[p] += after - before
            before = after
    return {p: totals[p] / len(orders) for p in players}


def random_monotone_type_game(
    n_types: int, rng: np.random.Generator
) -> Callable[[frozenset[int]], float]:
    """A random monotone game on sets of data *types*: v(U) = max over W ⊆ U of r(W), r ≥ 0.

    Players who hold the same type are exact replicas: the game only sees which types are in.
    """
    raw = {
        frozenset(w): (0.0 if not w else float(rng.uniform(0.0, 1.0)))
        for k in range(n_types + 1)
        for w in itertools.combinations(range(n_types), k)
    }
    value = {
        u: max(raw[frozenset(w)] for k in range(len(u) + 1) for w in itertools.combinations(u, k))
        for u in raw
    }
    return lambda types: value[frozenset(types)]
