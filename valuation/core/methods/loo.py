"""Leave-one-out values: LOO_i = U(all players) − U(all players but i).

``n + 1`` coalitions (a ``leave_one_out`` table: unit 0 is the grand coalition, unit
``i + 1`` leaves player ``i`` out), so it scales to row-level games; it misses redundancy
(two copies of the same data each get ~0), which Shapley values do not.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from valuation.core.methods.base import TableValuation
from valuation.core.result import ValuationResult


class LeaveOneOut(TableValuation):
    """Leave-one-out values.

    Parameters
    ----------
    model : scikit-learn estimator, optional
        Required when fitting a Dataset.
    scorer : str or callable, optional
        Scorer name or ``callable(model, X, y)``; default accuracy / r2.
    cache : UtilityCache, optional
        Cache for the model game.
    progress : callable, optional
        ``progress(done_fraction, info)``.

    Attributes
    ----------
    result_ : ValuationResult
        Values with stderr 0 and counts 2 (the two utilities behind each value);
        ``total_gain`` is None since U(∅) is not evaluated.
    utility_table_ : UtilityTable
        The ``n + 1`` utilities.
    n_utility_evaluations_ : int
        ``n + 1``.
    """

    method_name: ClassVar[str] = "leave_one_out"
    table_kind = "leave_one_out"

    def __init__(self, *, model=None, scorer=None, cache=None, progress=None) -> None:
        self.model = model
        self.scorer = scorer
        self.cache = cache
        self.progress = progress

    def _combine(self, utilities: np.ndarray, names: np.ndarray) -> ValuationResult:
        n = names.shape[0]
        return ValuationResult(
            utilities[0] - utilities[1:], np.full(n, 2), names, method=self.method_name
        )
