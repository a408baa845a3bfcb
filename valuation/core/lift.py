"""How much a bundle of data lifts a metric over a baseline, with a bootstrap interval.

Two models are fitted — on the baseline alone and on baseline ∪ bundle — and scored on the
same validation rows. The interval resamples validation rows (paired: both models see the
same resample) and recomputes the metric itself on each resample, so it is right for
metrics that are not row averages (F1, ROC AUC, R², RMSE) as well as for accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from valuation.core.dataset import Dataset
from valuation.core.utility import ModelUtility


@dataclass(frozen=True)
class LiftMeasurement:
    """Metric of the baseline and of baseline ∪ bundle, the lift and its interval."""

    baseline_score: float
    bundle_score: float
    estimate: float
    lower: float
    upper: float
    confidence: float

    def to_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


class _Frozen:
    """A fitted model's outputs on the validation rows, looked up by row index.

    Scorers call ``predict``/``predict_proba`` with an (n, 1) array of row indices, so one
    resample costs a lookup, not a prediction.
    """

    def __init__(self, model: Any, X: np.ndarray) -> None:
        self.classes_ = getattr(model, "classes_", None)
        self._predicted = model.predict(X)
        self._proba = model.predict_proba(X) if hasattr(model, "predict_proba") else None

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return self._predicted[rows[:, 0]]

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        if self._proba is None:
            raise AttributeError("the model has no predict_proba")
        return self._proba[rows[:, 0]]


def measure_lift(
    utility: ModelUtility,
    train: Dataset,
    valid: Dataset,
    *,
    players: list[int],
    reference: list[int] = (),
    baseline: Dataset | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    random_state: int = 0,
) -> LiftMeasurement:
    """Lift of ``players`` (indices into ``train``'s players) over ``reference`` players
    (default none: the baseline alone), both trained with the baseline.

    Degenerate training sets (no baseline, one class) are scored as the model utility
    scores them: by the constant predictor.
    """
    game = utility.bind(train, valid, baseline)
    return compare_fits(
        game.scorer,
        game.fitted_model(players),
        game.fitted_model(list(reference)),
        valid,
        n_resamples=n_resamples,
        confidence=confidence,
        random_state=random_state,
    )


def compare_fits(
    scorer: Any,
    model: Any,
    reference: Any,
    valid: Dataset,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    random_state: int = 0,
) -> LiftMeasurement:
    """How much better fitted ``model`` scores than fitted ``reference`` on ``valid``, with
    the paired bootstrap interval of the difference (module docstring)."""
    rows = np.arange(valid.n_rows)[:, None]
    frozen_bundle, frozen_base = _Frozen(model, valid.X), _Frozen(reference, valid.X)
    bundle_score = scorer(frozen_bundle, rows, valid.y)
    base_score = scorer(frozen_base, rows, valid.y)
    rng = np.random.default_rng(random_state)
    lifts = np.empty(n_resamples)
    for b in range(n_resamples):
        sample = rows[rng.integers(0, valid.n_rows, size=valid.n_rows)]
        y = valid.y[sample[:, 0]]
        lifts[b] = scorer(frozen_bundle, sample, y) - scorer(frozen_base, sample, y)
    alpha = (1 - confidence) / 2
    lower, upper = np.quantile(lifts, [alpha, 1 - alpha])
    estimate = bundle_score - base_score
    return LiftMeasurement(
        baseline_score=float(base_score),
        bundle_score=float(bundle_score),
        estimate=float(estimate),
        lower=float(min(lower, estimate)),
        upper=float(max(upper, estimate)),
        confidence=confidence,
    )
