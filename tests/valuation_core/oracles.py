"""Brute-force oracles, written independently of valuation.core.

Shapley values by the permutation definition (the average marginal over all n! orders),
Banzhaf and leave-one-out by their definitions, in exact fractions over a utility given as a
function of a frozenset. Small n only. Also the per-owner sums of row values, and the
breast-cancer rows the row-game tests value.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from itertools import combinations, permutations
from math import factorial

import numpy as np
from sklearn.datasets import load_breast_cancer

from valuation.core.game import Game
from valuation.core.games import TableGame

Utility = Callable[[frozenset], Fraction]


def shapley_by_permutations(utility: Utility, n: int) -> list[Fraction]:
    """φ_i = average over all orders of U(predecessors ∪ i) − U(predecessors)."""
    totals = [Fraction(0)] * n
    for order in permutations(range(n)):
        before: frozenset = frozenset()
        for player in order:
            after = before | {player}
            totals[player] += utility(after) - utility(before)
            before = after
    return [t / factorial(n) for t in totals]


def banzhaf_by_subsets(utility: Utility, n: int) -> list[Fraction]:
    """β_i = average over S ⊆ N∖{i} of U(S ∪ i) − U(S)."""
    values = []
    for player in range(n):
        others = [p for p in range(n) if p != player]
        total = Fraction(0)
        for size in range(n):
            for subset in combinations(others, size):
                s = frozenset(subset)
                total += utility(s | {player}) - utility(s)
        values.append(total / 2 ** (n - 1))
    return values


def leave_one_out(utility: Utility, n: int) -> list[Fraction]:
    """U(N) − U(N ∖ {i})."""
    everyone = frozenset(range(n))
    return [utility(everyone) - utility(everyone - {p}) for p in range(n)]


def random_table(n: int, rng: np.random.Generator) -> dict[frozenset, Fraction]:
    """A random game: every coalition gets a random rational utility in [-1, 1]."""
    table = {}
    for size in range(n + 1):
        for subset in combinations(range(n), size):
            table[frozenset(subset)] = Fraction(int(rng.integers(-1000, 1001)), 1000)
    return table


def table_game(table: dict[frozenset, Fraction], n: int) -> TableGame:
    """The engine's game for an oracle table."""
    return TableGame({tuple(sorted(k)): v for k, v in table.items()}, n)


def as_floats(values: list[Fraction]) -> np.ndarray:
    return np.array([float(v) for v in values])


class _NoCache:
    """A cache that never remembers, so every evaluation reaches the game."""

    def get(self, key):
        return None

    def set(self, key, value):
        return None


class RecordingGame(Game):
    """A game from a utility function of a frozenset that records every evaluation."""

    def __init__(self, n, utility):
        super().__init__(n, cache=_NoCache())
        self.function = utility
        self.calls = []

    def _evaluate(self, players):
        self.calls.append(players)
        return float(self.function(frozenset(players)))


def owner_sums(values, owners) -> np.ndarray:
    """Sum of the row ``values`` of each owner, owners in order of their first row."""
    names, codes = np.unique(owners, return_inverse=True)
    order = [list(names).index(o) for o in dict.fromkeys(owners)]  # first-appearance order
    return np.bincount(codes, weights=values)[order]


def cancer(n_train: int, n_valid: int = 60, seed: int = 0):
    """Standardised breast-cancer rows: ``n_train`` to value, ``n_valid`` to score on."""
    X, y = load_breast_cancer(return_X_y=True)
    rows = np.random.default_rng(seed).permutation(len(y))[: n_train + n_valid]
    X, y = ((X - X.mean(axis=0)) / X.std(axis=0))[rows], y[rows]
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]
