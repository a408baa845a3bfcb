"""Valuation methods: one class per method, all with ``fit`` and the chunk protocol.

``fit(train, valid=None, *, baseline=None)`` takes a Dataset (with ``model``/``scorer``) or
a Game, returns ``self`` and leaves the answer in ``result_``. ``n_units``, ``fit_chunk`` and
``reduce`` split the same work across workers (see :mod:`valuation.core.chunking`).
"""

from valuation.core.methods.base import (
    RowValuation,
    SamplingValuation,
    TableValuation,
    Valuation,
)
from valuation.core.methods.beta import BetaShapley
from valuation.core.methods.consensus import Consensus
from valuation.core.methods.exact import ExactBanzhaf, ExactShapley
from valuation.core.methods.influence import AMIP, AMIPResult, AMIPSignal, Influence
from valuation.core.methods.knn import KNNShapley
from valuation.core.methods.lava import LAVA
from valuation.core.methods.least_core import LeastCore
from valuation.core.methods.loo import LeaveOneOut
from valuation.core.methods.msr import BanzhafMSR
from valuation.core.methods.oob import DataOOB
from valuation.core.methods.permutation import PermutationShapley
from valuation.core.methods.rows import RowShapley
from valuation.core.methods.stratified import StratifiedSemivalue, StratifiedShapley
from valuation.core.methods.ts_dshapley import RemovalCurve, TransferredShapley

__all__ = [
    "AMIP",
    "AMIPResult",
    "AMIPSignal",
    "BanzhafMSR",
    "BetaShapley",
    "Consensus",
    "DataOOB",
    "ExactBanzhaf",
    "ExactShapley",
    "Influence",
    "KNNShapley",
    "LAVA",
    "LeastCore",
    "LeaveOneOut",
    "PermutationShapley",
    "RemovalCurve",
    "RowShapley",
    "RowValuation",
    "SamplingValuation",
    "StratifiedSemivalue",
    "StratifiedShapley",
    "TableValuation",
    "TransferredShapley",
    "Valuation",
]
