"""Valuation methods: one class per method, all with ``fit`` and the chunk protocol.

``fit(train, valid=None, *, baseline=None)`` takes a Dataset (with ``model``/``scorer``) or
a Game, returns ``self`` and leaves the answer in ``result_``. ``n_units``, ``fit_chunk`` and
``reduce`` split the same work across workers (see :mod:`valuation.core.chunking`).
"""

from valuation.core.methods.base import SamplingValuation, TableValuation, Valuation
from valuation.core.methods.exact import ExactBanzhaf, ExactShapley
from valuation.core.methods.loo import LeaveOneOut
from valuation.core.methods.permutation import PermutationShapley

__all__ = [
    "ExactBanzhaf",
    "ExactShapley",
    "LeaveOneOut",
    "PermutationShapley",
    "SamplingValuation",
    "TableValuation",
    "Valuation",
]
