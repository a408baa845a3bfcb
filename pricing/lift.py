"""The lift a bundle gives over the consumer's baseline, with its confidence interval.

The app measures, on the consumer's validation rows, how the model trained on baseline ∪ bundle
scores against the model trained on the baseline alone. :func:`bootstrap_lift` turns the two
per-row score arrays (0/1 correctness for accuracy, or any per-row score whose mean is the
metric) into a paired percentile-bootstrap interval over validation rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["Lift", "bootstrap_lift"]

# Rows × resamples drawn at once: bounds the index matrix to a few tens of megabytes.
_BATCH_CELLS = 1 << 22


@dataclass(frozen=True)
class Lift:
    """A measured lift in metric units (0.01 = one point) and its confidence interval.

    Parameters
    ----------
    estimate : float
        Point estimate, metric(bundle) − metric(baseline).
    lower, upper : float
        Ends of the confidence interval (``lower <= upper``).
    confidence : float, default 0.95
        Coverage the interval was built for.
    """

    estimate: float
    lower: float
    upper: float
    confidence: float = 0.95

    def __post_init__(self) -> None:
        for name in ("estimate", "lower", "upper", "confidence"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"lift {name} must be finite")
        if self.lower > self.upper:
            raise ValueError("lift interval must have lower <= upper")
        if not 0 < self.confidence < 1:
            raise ValueError("confidence must lie in (0, 1)")

    def shifted(self, delta: float) -> Lift:
        """The same interval moved by ``delta``."""
        return Lift(
            estimate=self.estimate + delta,
            lower=self.lower + delta,
            upper=self.upper + delta,
            confidence=self.confidence,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "estimate": self.estimate,
            "lower": self.lower,
            "upper": self.upper,
            "confidence": self.confidence,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lift:
        """Inverse of :meth:`to_dict`."""
        return cls(
            estimate=float(data["estimate"]),
            lower=float(data["lower"]),
            upper=float(data["upper"]),
            confidence=float(data.get("confidence", 0.95)),
        )


def bootstrap_lift(
    bundle_scores: ArrayLike,
    baseline_scores: ArrayLike,
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    random_state: int | np.random.Generator | np.random.SeedSequence | None = None,
) -> Lift:
    """Paired percentile-bootstrap interval for the lift of a bundle over a baseline.

    Parameters
    ----------
    bundle_scores, baseline_scores : array-like of shape (n_rows,)
        Per-validation-row scores of the model with and without the bundle (e.g. 1.0 for a
        correct prediction, 0.0 otherwise), row-aligned; the metric is their mean.
    n_resamples : int, default 2000
        Bootstrap resamples of the validation rows.
    confidence : float, default 0.95
        Two-sided coverage of the interval.
    random_state : int, Generator, SeedSequence or None, default None
        Seed of the resampling; the same seed gives the same interval.

    Returns
    -------
    Lift
        The observed mean difference and the percentile interval of the resampled ones.
    """
    bundle = np.asarray(bundle_scores, dtype=float)
    baseline = np.asarray(baseline_scores, dtype=float)
    if bundle.ndim != 1 or bundle.shape != baseline.shape or bundle.size == 0:
        raise ValueError("score arrays must be 1-d, non-empty and of the same length")
    if not (np.all(np.isfinite(bundle)) and np.all(np.isfinite(baseline))):
        raise ValueError("scores must be finite")
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1")
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie in (0, 1)")
    rng = np.random.default_rng(random_state)
    # Resampling rows of the paired difference keeps the correlation between the two models.
    diff = bundle - baseline
    n = diff.size
    batch = max(1, _BATCH_CELLS // n)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, batch):
        stop = min(start + batch, n_resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = diff[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    lower, upper = np.quantile(means, [alpha, 1.0 - alpha])
    return Lift(
        estimate=float(diff.mean()),
        lower=float(lower),
        upper=float(upper),
        confidence=float(confidence),
    )
