"""Acquire and label: buy the most valuable rows within a budget, and rank a pool to annotate.

**Row buying.** Each row's price comes from its value: ``price_i = max(floor, round(rate ·
max(value_i, 0)))`` integer cents (:func:`row_prices`), so a row worth twice as much costs
about twice as much, and worthless rows still cost the floor. :func:`buy_rows` picks the
set of rows of largest total value whose total price is at most the budget — a 0/1
knapsack in integer cents. It is solved exactly by dynamic programming over the budget when
``n_rows · (budget + 1)`` cells fit in ``max_cells``; beyond that, greedily by value per cent
(a row that does not fit is skipped and cheaper ones are still tried). Either way the total
price never exceeds the budget. Rows of value ≤ 0 are never bought. With prices
proportional to values every full spend buys about the same total value, so a row-level
offer uses :func:`buy_top_rows` instead: the most valuable rows first.

**Active learning.** :class:`PoolRanker` orders an unlabeled pool for annotation:

* ``"value"`` — Shapley-Study's acquisition idea: KNN-Shapley values of the labeled rows on
  the validation set, a random-forest regressor from features to those values, its
  predictions on the pool; combined with uncertainty as ``mix · r_value + (1 − mix) ·
  r_uncertainty`` where ``r`` are normalised ranks in [0, 1] (so the two scales never
  matter). ``mix = 1`` is value alone.
* ``"uncertainty"`` — least confidence, ``1 − max_c p(c | x)`` of the model fitted on the
  labeled rows (baseline);
* ``"random"`` — a seeded random order (baseline).
"""

from __future__ import annotations

from typing import Any, Literal, Self

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from valuation.core.dataset import Dataset
from valuation.core.methods.consensus import normalized_ranks
from valuation.core.methods.knn import KNNShapley

#: Largest dynamic-programming table (rows × budget cells) solved exactly; ~20 MB of choices.
MAX_CELLS = 20_000_000


def row_prices(values: np.ndarray, *, rate: float, floor: int = 1) -> np.ndarray:
    """Integer prices in cents: ``max(floor, round(rate · max(value, 0)))`` per row.

    Parameters
    ----------
    values : array-like of shape (n_rows,)
        Per-row values (e.g. KNN-Shapley).
    rate : float
        Cents per unit of value (> 0).
    floor : int, default 1
        Smallest price of a row, in cents (≥ 1, so no row is free).
    """
    if not rate > 0 or floor < 1:
        raise ValueError("rate must be positive and floor at least 1 cent")
    values = np.asarray(values, dtype=np.float64)
    return np.maximum(floor, np.round(rate * np.maximum(values, 0.0))).astype(np.int64)


def buy_rows(
    values: np.ndarray, prices: np.ndarray, budget: int, *, max_cells: int = MAX_CELLS
) -> tuple[np.ndarray, bool]:
    """The rows to buy: most total value with total price ≤ ``budget`` (module docstring).

    Parameters
    ----------
    values : array-like of shape (n_rows,)
    prices : array-like of int, shape (n_rows,)
        Positive prices in cents.
    budget : int
        Budget in cents (≥ 0).
    max_cells : int
        Largest ``n_rows · (budget + 1)`` solved exactly.

    Returns
    -------
    rows : numpy.ndarray of int
        Chosen rows, ascending.
    exact : bool
        Whether the choice is the optimum (dynamic programming) or greedy.
    """
    values = np.asarray(values, dtype=np.float64)
    prices = np.asarray(prices)
    if values.shape != prices.shape or values.ndim != 1:
        raise ValueError("values and prices must be 1-d arrays of the same length")
    if not np.issubdtype(prices.dtype, np.integer) or (prices < 1).any():
        raise ValueError("prices must be positive integers (cents)")
    if budget < 0:
        raise ValueError(f"budget must be non-negative, got {budget!r}")
    candidates = np.flatnonzero((values > 0) & (prices <= budget))
    if candidates.size * (budget + 1) <= max_cells:
        return _knapsack(values[candidates], prices[candidates], int(budget), candidates), True
    density = values[candidates] / prices[candidates]
    return _greedy(density, prices[candidates], int(budget), candidates), False


def _knapsack(values: np.ndarray, prices: np.ndarray, budget: int, rows: np.ndarray) -> np.ndarray:
    best = np.zeros(budget + 1)
    took = np.zeros((rows.size, budget + 1), dtype=bool)
    for i, (value, price) in enumerate(zip(values, prices, strict=True)):
        with_row = np.full(budget + 1, -np.inf)
        with_row[price:] = best[: budget + 1 - price] + value
        took[i] = with_row > best
        best = np.maximum(best, with_row)
    chosen = []
    left = budget
    for i in range(rows.size - 1, -1, -1):
        if took[i, left]:
            chosen.append(rows[i])
            left -= int(prices[i])
    return np.sort(np.array(chosen, dtype=np.int64))


def buy_top_rows(values: np.ndarray, prices: np.ndarray, budget: int) -> np.ndarray:
    """The most valuable rows first, each one that still fits the budget (ascending rows).

    When prices are proportional to values (:func:`row_prices`), every way of spending the
    budget buys about the same total value, so :func:`buy_rows`'s optimum is decided by
    rounding; this rule breaks that tie toward the rows most certainly useful — the highest
    valued — and is what a row-level offer should use. Rows of value ≤ 0 are never bought.
    """
    values = np.asarray(values, dtype=np.float64)
    prices = np.asarray(prices)
    if values.shape != prices.shape or values.ndim != 1:
        raise ValueError("values and prices must be 1-d arrays of the same length")
    if budget < 0:
        raise ValueError(f"budget must be non-negative, got {budget!r}")
    candidates = np.flatnonzero((values > 0) & (prices <= budget))
    return _greedy(values[candidates], prices[candidates], int(budget), candidates)


def _greedy(key: np.ndarray, prices: np.ndarray, budget: int, rows: np.ndarray) -> np.ndarray:
    """Rows by ``key``, largest first, each taken while it fits the budget."""
    order = np.argsort(-key, kind="stable")
    chosen, spent = [], 0
    for i in order:
        if spent + prices[i] <= budget:
            chosen.append(rows[i])
            spent += int(prices[i])
    return np.sort(np.array(chosen, dtype=np.int64))


Strategy = Literal["value", "uncertainty", "random"]


class PoolRanker(BaseEstimator):
    """Order an unlabeled pool for annotation (strategies in the module docstring).

    Parameters
    ----------
    strategy : {"value", "uncertainty", "random"}, default "value"
    mix : float in [0, 1], default 0.5
        Weight of the predicted value against uncertainty for ``"value"``.
    model : scikit-learn classifier, optional
        The consumer's model, for uncertainty. Default: standardised logistic regression.
    k : int, default 5
        Neighbours of the KNN-Shapley values behind ``"value"``.
    n_estimators : int, default 50
        Trees of the value regressor.
    random_state : int or None, default None
        Seed of the random order and of the value regressor.

    Attributes
    ----------
    ranking_ : numpy.ndarray of int
        Pool rows, first to annotate first.
    scores_ : numpy.ndarray
        The score behind the ranking, per pool row (higher = annotate sooner).
    predicted_values_ : numpy.ndarray or None
        The regressor's value for every pool row (``"value"`` only).
    """

    def __init__(
        self,
        *,
        strategy: Strategy = "value",
        mix: float = 0.5,
        model: Any = None,
        k: int = 5,
        n_estimators: int = 50,
        random_state: int | None = None,
    ) -> None:
        self.strategy = strategy
        self.mix = mix
        self.model = model
        self.k = k
        self.n_estimators = n_estimators
        self.random_state = random_state

    def fit(self, labeled: Dataset, X_pool: np.ndarray, valid: Dataset | None = None) -> Self:
        """Rank ``X_pool`` given the ``labeled`` rows (and ``valid``, needed by "value")."""
        X_pool = np.asarray(X_pool, dtype=np.float64)
        if X_pool.ndim != 2 or X_pool.shape[1] != labeled.n_features:
            raise ValueError("X_pool must be 2-d with the labeled rows' feature columns")
        if not 0 <= self.mix <= 1:
            raise ValueError(f"mix must be in [0, 1], got {self.mix!r}")
        self.predicted_values_ = None
        if self.strategy == "random":
            rng = np.random.default_rng(self.random_state)
            self.scores_ = rng.random(X_pool.shape[0])
        elif self.strategy == "uncertainty":
            self.scores_ = self._uncertainty(labeled, X_pool)
        elif self.strategy == "value":
            if not isinstance(valid, Dataset):
                raise ValueError('strategy "value" needs the validation Dataset (valid)')
            values = KNNShapley(k=self.k).fit(Dataset(labeled.X, labeled.y), valid).result_
            regressor = RandomForestRegressor(
                n_estimators=self.n_estimators, random_state=self.random_state
            ).fit(labeled.X, values.values)
            self.predicted_values_ = regressor.predict(X_pool)
            self.scores_ = self.mix * normalized_ranks(self.predicted_values_)
            if self.mix < 1:
                uncertainty = normalized_ranks(self._uncertainty(labeled, X_pool))
                self.scores_ = self.scores_ + (1 - self.mix) * uncertainty
        else:
            raise ValueError(f"unknown strategy {self.strategy!r}")
        self.ranking_ = np.argsort(-self.scores_, kind="stable")
        return self

    def next_batch(self, size: int) -> np.ndarray:
        """The first ``size`` pool rows to annotate."""
        return self.ranking_[:size]

    def _uncertainty(self, labeled: Dataset, X_pool: np.ndarray) -> np.ndarray:
        if np.unique(labeled.y).size < 2:
            return np.ones(X_pool.shape[0])
        template = (
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
            if self.model is None
            else self.model
        )
        model = clone(template).fit(labeled.X, labeled.y)
        return 1.0 - model.predict_proba(X_pool).max(axis=1)
