"""Beta Shapley (Kwon & Zou, 2022): a semivalue that weights marginals by coalition size.

A player's value is its mean marginal contribution ``U(S ∪ i) − U(S)`` when the number of
others ``k = |S|`` is drawn from the Beta-Binomial(n − 1, β, α) distribution (and ``S`` is
uniform given its size): a fraction ``t ~ Beta(β, α)`` of the others is present. Beta(1, 1)
makes every size equally likely, which is the Shapley value; a large ``α`` (the authors
recommend Beta(16, 1) for finding mislabelled rows) puts the weight on small coalitions,
where one row's effect is visible. Semivalues other than Shapley are not efficient.

The estimator is the size-stratified one of :mod:`~valuation.core.methods.stratified`
with these weights: the Neyman allocation follows the weights, so strata that hardly count
get little more than their pilot.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.stats import betabinom

from valuation.core.methods.stratified import StratifiedSemivalue


def beta_size_weights(n_players: int, alpha: float, beta: float) -> np.ndarray:
    """``p(k)``, k = 0..n−1: the Beta-Binomial(n − 1, β, α) probabilities of k others."""
    if not (alpha > 0 and beta > 0):
        raise ValueError(f"alpha and beta must be positive, got alpha={alpha!r}, beta={beta!r}")
    weights = betabinom.pmf(np.arange(n_players), n_players - 1, beta, alpha)
    return weights / weights.sum()


class BetaShapley(StratifiedSemivalue):
    """Beta(α, β) Shapley values by size-stratified sampling.

    Parameters
    ----------
    alpha, beta : float, default 16 and 1
        Shape of the Beta distribution of the fraction of others present (see the module
        docstring); ``alpha=1, beta=1`` is the Shapley value.
    model, scorer, cache, random_state, budget, pilot_size, progress
        As :class:`~valuation.core.methods.stratified.StratifiedShapley`.

    Attributes
    ----------
    result_ : ValuationResult
        Values with stderr; ``total_gain = U(N) − U(∅)`` (``efficiency_gap`` is
        informative: Beta Shapley values need not add up to it).
    n_utility_evaluations_ : int
        Distinct coalitions evaluated: ``min(budget, 2**n)``.
    seed_ : int
        The seed used.
    allocation_ : dict of int to int
        Coalitions evaluated per coalition size.
    """

    method_name: ClassVar[str] = "beta_shapley"

    def __init__(
        self,
        *,
        alpha: float = 16.0,
        beta: float = 1.0,
        model=None,
        scorer=None,
        cache=None,
        random_state: int | None = None,
        budget: int | None = None,
        pilot_size: int = 4,
        progress=None,
    ) -> None:
        self.alpha = alpha
        self.beta = beta
        self.model = model
        self.scorer = scorer
        self.cache = cache
        self.random_state = random_state
        self.budget = budget
        self.pilot_size = pilot_size
        self.progress = progress

    def size_weights(self, n_players: int) -> np.ndarray:
        return beta_size_weights(n_players, self.alpha, self.beta)
