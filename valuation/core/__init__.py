"""valuation.core — the pure data-valuation engine (numpy/scipy/scikit-learn; never Django).

Data (:class:`Dataset`) and a model with a scorer (:class:`ModelUtility`) make a cooperative
:class:`Game`; a method values its players into a :class:`ValuationResult`. Sampling stops
by composable rules (:mod:`~valuation.core.stopping`) and every method splits into chunks
that merge back exactly (:mod:`~valuation.core.chunking`). See ``README.md`` beside this file.
"""

from valuation.core.chunking import (
    UtilityTable,
    chunk_ranges,
    fit_chunked,
    partial_from_dict,
    sample_rng,
)
from valuation.core.dataset import Dataset
from valuation.core.game import (
    Game,
    InMemoryCache,
    RunUtility,
    UtilityCache,
    coalition_key,
    coalition_mask,
    mask_players,
)
from valuation.core.methods import (
    BanzhafMSR,
    BetaShapley,
    ExactBanzhaf,
    ExactShapley,
    LeastCore,
    LeaveOneOut,
    PermutationShapley,
    RowShapley,
    RowValuation,
    SamplingValuation,
    StratifiedSemivalue,
    StratifiedShapley,
    TableValuation,
    Valuation,
)
from valuation.core.progress import ProgressCallback, ProgressReporter
from valuation.core.result import RowCredits, ValuationResult
from valuation.core.scoring import Scorer, get_scorer
from valuation.core.stopping import (
    MaxEvaluations,
    MaxSamples,
    RankStable,
    RunState,
    StandardErrorBelow,
    StoppingRule,
)
from valuation.core.utility import ModelGame, ModelUtility

__all__ = [
    "BanzhafMSR",
    "BetaShapley",
    "Dataset",
    "ExactBanzhaf",
    "ExactShapley",
    "LeastCore",
    "LeaveOneOut",
    "PermutationShapley",
    "RowShapley",
    "RowValuation",
    "SamplingValuation",
    "StratifiedSemivalue",
    "StratifiedShapley",
    "TableValuation",
    "Valuation",
    "Game",
    "InMemoryCache",
    "MaxEvaluations",
    "MaxSamples",
    "ModelGame",
    "ModelUtility",
    "ProgressCallback",
    "ProgressReporter",
    "RankStable",
    "RunState",
    "RowCredits",
    "RunUtility",
    "Scorer",
    "StandardErrorBelow",
    "StoppingRule",
    "UtilityCache",
    "UtilityTable",
    "ValuationResult",
    "chunk_ranges",
    "coalition_key",
    "coalition_mask",
    "fit_chunked",
    "get_scorer",
    "mask_players",
    "partial_from_dict",
    "sample_rng",
]
