"""Exact Shapley and Banzhaf values by evaluating every coalition once.

Both read the same ``subsets`` table (unit = coalition bit mask, ``2**n`` units), so one
table serves both, and a chunked run splits the masks ``[0, 2**n)`` across workers. The
combination is vectorised per player over the ``2**(n-1)`` coalitions without them:

    Shapley   φ_i = Σ_{S ∌ i} |S|! (n−1−|S|)! / n! · (U(S ∪ i) − U(S))
    Banzhaf   β_i = 2^{−(n−1)} Σ_{S ∌ i} (U(S ∪ i) − U(S))

Differences are taken before weighting, which keeps the Shapley efficiency gap at float
rounding (~1e-15) even for 16 players.
"""

from __future__ import annotations

from math import comb
from typing import ClassVar

import numpy as np

from valuation.core.methods.base import TableValuation
from valuation.core.result import ValuationResult


def _marginals_without(utilities: np.ndarray, player: int) -> tuple[np.ndarray, np.ndarray]:
    """Masks S ∌ player (ascending) and the marginals ``U(S ∪ player) − U(S)``."""
    masks = np.arange(utilities.shape[0], dtype=np.int64)
    without = masks[(masks >> player) & 1 == 0]
    return without, utilities[without | (1 << player)] - utilities[without]


def _sizes(masks: np.ndarray, n_players: int) -> np.ndarray:
    """Number of players in each mask."""
    return sum(((masks >> i) & 1) for i in range(n_players))


class _ExactSubsets(TableValuation):
    """Common parameters and size guard of the exact subset-enumeration methods."""

    table_kind = "subsets"

    def __init__(
        self,
        *,
        model=None,
        scorer=None,
        cache=None,
        progress=None,
        max_players: int = 16,
    ) -> None:
        self.model = model
        self.scorer = scorer
        self.cache = cache
        self.progress = progress
        self.max_players = max_players

    def _check_size(self, n_players: int) -> None:
        if n_players > self.max_players:
            raise ValueError(
                f"{type(self).__name__} evaluates all 2**n coalitions; {n_players} players "
                f"exceed max_players={self.max_players} (raise it knowingly, or use a "
                "sampling method such as PermutationShapley)"
            )


class ExactShapley(_ExactSubsets):
    """Shapley values by full enumeration: every coalition evaluated exactly once.

    Parameters
    ----------
    model : scikit-learn estimator, optional
        Required when fitting a Dataset (see :class:`~valuation.core.utility.ModelUtility`).
    scorer : str or callable, optional
        Scorer name or ``callable(model, X, y)``; default accuracy / r2.
    cache : UtilityCache, optional
        Cache for the model game.
    progress : callable, optional
        ``progress(done_fraction, info)``.
    max_players : int, default 16
        Refuse larger games (2**n evaluations).

    Attributes
    ----------
    result_ : ValuationResult
        Values (stderr 0, counts 2**n); ``efficiency_gap`` is 0 up to rounding.
    utility_table_ : UtilityTable
        Every coalition's utility.
    n_utility_evaluations_ : int
        ``2**n``.
    """

    method_name: ClassVar[str] = "exact_shapley"

    def _combine(self, utilities: np.ndarray, names: np.ndarray) -> ValuationResult:
        n = names.shape[0]
        weights = np.array([1.0 / (n * comb(n - 1, size)) for size in range(n)])
        values = np.empty(n)
        for player in range(n):
            without, marginals = _marginals_without(utilities, player)
            values[player] = np.dot(weights[_sizes(without, n)], marginals)
        return ValuationResult(
            values,
            np.full(n, utilities.shape[0]),
            names,
            method=self.method_name,
            total_gain=float(utilities[-1] - utilities[0]),
        )


class ExactBanzhaf(_ExactSubsets):
    """Banzhaf values by full enumeration: the plain mean of each player's marginals.

    Parameters and attributes as :class:`ExactShapley`; Banzhaf values are not efficient,
    so ``result_.efficiency_gap`` is informative rather than zero.
    """

    method_name: ClassVar[str] = "exact_banzhaf"

    def _combine(self, utilities: np.ndarray, names: np.ndarray) -> ValuationResult:
        n = names.shape[0]
        values = np.array([np.mean(_marginals_without(utilities, p)[1]) for p in range(n)])
        return ValuationResult(
            values,
            np.full(n, utilities.shape[0]),
            names,
            method=self.method_name,
            total_gain=float(utilities[-1] - utilities[0]),
        )
