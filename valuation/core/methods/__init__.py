"""Valuation methods: one class per method, all with ``fit`` and the chunk protocol.

``fit(train, valid=None, *, baseline=None)`` takes a Dataset (with ``model``/``scorer``) or
a Game, returns ``self`` and leaves the answer in ``result_``. ``n_units``, ``fit_chunk`` and
``reduce`` split the same work across workers (see :mod:`valuation.core.chunking`).
"""

from valuation.core.methods.base import SamplingValuation, TableValuation, Valuation
from valuation.core.methods.beta import BetaShapley
from valuation.core.methods.exact import ExactBanzhaf, ExactShapley
from valuation.core.methods.least_core import LeastCore
from valuation.core.methods.loo import LeaveOneOut
from valuation.core.methods.msr import BanzhafMSR
from valuation.core.methods.permutation import PermutationShapley
from valuation.core.methods.stratified import StratifiedSemivalue, StratifiedShapley

__all__ = [
    "BanzhafMSR",
    "BetaShapley",
    "ExactBanzhaf",
    "ExactShapley",
    "LeastCore",
    "LeaveOneOut",
    "PermutationShapley",
    "SamplingValuation",
    "StratifiedSemivalue",
    "StratifiedShapley",
    "TableValuation",
    "Valuation",
]
