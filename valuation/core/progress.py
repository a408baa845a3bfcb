"""Progress reporting: methods call ``progress(done_fraction, info)`` as they work.

The callback receives a fraction in [0, 1] that never decreases within a run (stopping rules
such as :class:`~valuation.core.stopping.StandardErrorBelow` estimate completion from noisy
errors, and a progress bar should not go backwards) and a dict ``info`` with at least
``method``, ``n_samples`` or ``n_units_done``, and ``n_evaluations``. Sampling methods call it
after every sample; exact methods after every 1% of their coalitions; every run ends with a
call at 1.0. The CLI draws a bar with it; the app stores it on the job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ProgressCallback = Callable[[float, dict[str, Any]], None]


class ProgressReporter:
    """Forward monotone progress to an optional callback.

    Parameters
    ----------
    callback : callable or None
        ``callback(done_fraction, info)``; None disables reporting.
    """

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback
        self.fraction = 0.0

    def __call__(self, fraction: float, **info: Any) -> None:
        """Report ``fraction`` (clamped to [0, 1] and to at least the last one) with ``info``."""
        self.fraction = max(self.fraction, min(1.0, max(0.0, float(fraction))))
        if self.callback is not None:
            self.callback(self.fraction, info)
