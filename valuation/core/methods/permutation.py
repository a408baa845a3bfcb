"""Permutation-sampling Shapley values, optionally truncated (TMC) and antithetic.

One sample is a uniformly random order of the players. Walking it, each player's
contribution is ``U(prefix with it) − U(prefix without it)``; the prefix utility is carried
from one step to the next, so a permutation costs at most ``n`` evaluations, and the run's
memo (:class:`~valuation.core.game.RunUtility`) never evaluates a coalition twice.

Untruncated, the contributions of one permutation telescope to ``U(all) − U(∅)`` exactly,
so every partial result is efficient. With ``truncation=τ`` the walk stops after the first
prefix whose utility is within ``τ`` (absolute, in utility units) of ``U(all)``; the
remaining players get contribution 0, so a permutation sums to ``U(prefix) − U(∅)``. The
tolerance is absolute, not relative to ``U(all)``, because relative tolerances break when
``U(all)`` is near 0 or negative (e.g. ``neg_log_loss``).

``antithetic=True`` makes a sample the average over an order and its reverse: the first
players of one are the last of the other, which cancels much of the variance of the early,
large marginals. Such a sample costs up to ``2n`` evaluations.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from valuation.core.game import RunUtility
from valuation.core.methods.base import SamplingValuation


class PermutationShapley(SamplingValuation):
    """Monte Carlo Shapley values over random permutations.

    Parameters
    ----------
    model : scikit-learn estimator, optional
        Required when fitting a Dataset.
    scorer : str or callable, optional
        Scorer name or ``callable(model, X, y)``; default accuracy / r2.
    cache : UtilityCache, optional
        Cache for the model game.
    random_state : int, optional
        Seed; sample ``j`` uses ``sample_rng(random_state, j)``. None draws fresh entropy
        (recorded in ``seed_``); chunked runs need an int.
    stop : StoppingRule, optional
        When to stop ``fit``; default ``MaxSamples(100)``. Checked after every sample.
    progress : callable, optional
        ``progress(done_fraction, info)``, called after every sample.
    truncation : float, optional
        Absolute tolerance for truncating a permutation (see module docstring); None (the
        default) never truncates.
    antithetic : bool, default False
        Pair every permutation with its reverse.

    Attributes
    ----------
    result_ : ValuationResult
        Means, stderr and counts (= samples) per player; ``total_gain = U(all) − U(∅)``.
    n_utility_evaluations_ : int
        Distinct coalitions evaluated.
    n_samples_ : int
        Samples drawn (a sample is a permutation, or a pair when antithetic).
    seed_ : int
        The seed used.
    """

    method_name: ClassVar[str] = "permutation_shapley"

    def __init__(
        self,
        *,
        model=None,
        scorer=None,
        cache=None,
        random_state: int | None = None,
        stop=None,
        progress=None,
        truncation: float | None = None,
        antithetic: bool = False,
    ) -> None:
        self.model = model
        self.scorer = scorer
        self.cache = cache
        self.random_state = random_state
        self.stop = stop
        self.progress = progress
        self.truncation = truncation
        self.antithetic = antithetic

    def _prepare(self, run: RunUtility) -> None:
        if self.truncation is not None and not self.truncation >= 0:
            raise ValueError(f"truncation must be None or >= 0, got {self.truncation!r}")
        # Both ends are needed by every permutation: U(∅) for the first marginal, U(all)
        # as the last prefix (or as the truncation target).
        run(0)
        run(run.game.grand_mask)

    def _total_gain(self, run: RunUtility) -> float:
        return run(run.game.grand_mask) - run(0)

    def _sample(self, run: RunUtility, rng: np.random.Generator) -> tuple[np.ndarray, None]:
        order = rng.permutation(run.game.n_players)
        contributions = self._walk(run, order)
        if self.antithetic:
            contributions = (contributions + self._walk(run, order[::-1])) / 2
        return contributions, None

    def _walk(self, run: RunUtility, order: np.ndarray) -> np.ndarray:
        """Marginal contributions along ``order`` (0 after a truncation)."""
        contributions = np.zeros(order.shape[0])
        target = run(run.game.grand_mask)
        previous = run(0)
        mask = 0
        for player in order.tolist():
            mask |= 1 << player
            current = run(mask)
            contributions[player] = current - previous
            previous = current
            if self.truncation is not None and abs(current - target) <= self.truncation:
                break
        return contributions
