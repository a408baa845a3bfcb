"""Consensus: one ranking of likely bad rows from the cheap row-level detectors.

KNN-Shapley, Data-OOB and LAVA each find mislabeled or harmful rows, but on different scales
(a Shapley value, an out-of-bag accuracy, a negated transport gradient) and with different
blind spots (k-NN looks at neighbours on the validation set, Data-OOB at the training rows
alone, LAVA at the distance between the two distributions). Consensus puts them on one scale
by ranks and averages:

* each method's values are turned into **normalised ranks** ``r_m(i) ∈ [0, 1]`` (0 = lowest
  value = most suspicious; ties share their average rank; a single player gets 0.5), so no
  method dominates through its units or outliers;
* the consensus value of player ``i`` is the **mean rank** ``(1/M) Σ_m r_m(i)``; ``stderr``
  is the standard error of that mean over the ``M`` methods, so a large one says the
  methods disagree about the player.

Low consensus = likely bad. Each method's raw values and ranks are kept (``scores_``,
``ranks_``) so a report can show why a row was flagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal, Self

import numpy as np
from scipy.stats import rankdata

from valuation.core.dataset import Dataset
from valuation.core.methods.base import RowValuation
from valuation.core.methods.knn import KNNShapley
from valuation.core.methods.lava import LAVA
from valuation.core.methods.oob import DataOOB
from valuation.core.progress import ProgressCallback, ProgressReporter
from valuation.core.result import ValuationResult

Detector = Literal["knn-shapley", "data-oob", "lava"]

#: The detectors in the order they are run and reported.
DETECTORS: tuple[Detector, ...] = ("knn-shapley", "data-oob", "lava")


def normalized_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks of ``values`` scaled to [0, 1]: 0 for the lowest, 1 for the highest.

    Ties share their average rank; a single value gets 0.5.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 1:
        return np.array([0.5])
    return (rankdata(values, method="average") - 1.0) / (values.size - 1)


class Consensus(RowValuation):
    """Mean normalised rank of KNN-Shapley, Data-OOB and LAVA values (module docstring).

    Parameters
    ----------
    methods : sequence of {"knn-shapley", "data-oob", "lava"}, optional
        Detectors to combine. None (default): all three for classification; KNN-Shapley
        and Data-OOB for regression (LAVA's label-aware cost needs classes).
    task : {"classification", "regression"}, default "classification"
        The learning task, passed to KNN-Shapley and Data-OOB.
    k : int, default 5
        Neighbours of KNN-Shapley.
    n_estimators : int, default 100
        Bags of Data-OOB.
    random_state : int or None, default None
        Seed of Data-OOB's bags and LAVA's class subsampling.
    progress : callable, optional
        ``progress(done_fraction, info)`` after each detector (see
        :mod:`~valuation.core.progress`).

    Attributes
    ----------
    result_ : ValuationResult
        ``values`` = mean normalised rank in [0, 1] (low = likely bad), ``counts`` = number
        of methods, ``stderr`` = standard error of the mean over methods.
    scores_ : dict of str to numpy.ndarray
        Each method's raw values, per player.
    ranks_ : dict of str to numpy.ndarray
        Each method's normalised ranks, per player.
    n_utility_evaluations_ : int
        Models fitted (Data-OOB's learners; the other two fit none).

    Notes
    -----
    The chunk protocol has one unit, the whole computation: ranks are only defined once
    every detector has valued every player.
    """

    method_name: ClassVar[str] = "consensus"

    def __init__(
        self,
        *,
        methods: Sequence[Detector] | None = None,
        task: Literal["classification", "regression"] = "classification",
        k: int = 5,
        n_estimators: int = 100,
        random_state: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.methods = methods
        self.task = task
        self.k = k
        self.n_estimators = n_estimators
        self.random_state = random_state
        self.progress = progress

    def fit(self, train: Dataset, valid: Dataset | None = None, *, baseline=None) -> Self:
        """Run every detector on ``train`` (against ``valid``) and combine their ranks.

        Parameters
        ----------
        train : Dataset
            The players' rows.
        valid : Dataset
            Validation rows; required by KNN-Shapley and LAVA.
        baseline : None
            Must be None: KNN-Shapley's closed form has no always-present rows.

        Returns
        -------
        self
        """
        return super().fit(train, valid, baseline=baseline)

    def n_units(self, train: Dataset, valid: Dataset | None = None) -> int:
        """One unit: the detectors' ranks are combined as a whole."""
        return 1

    def _problem(
        self, train: Dataset, valid: Dataset | None, baseline: Any, *, chunked: bool
    ) -> tuple[Dataset, Dataset, tuple[Detector, ...]]:
        if baseline is not None:
            raise ValueError("Consensus takes no baseline (KNN-Shapley's closed form has none)")
        if not isinstance(train, Dataset) or not isinstance(valid, Dataset):
            raise ValueError("Consensus values a Dataset against a validation Dataset (valid)")
        return train, valid, self._chosen()

    def _partial(
        self, problem: tuple[Dataset, Dataset, tuple[Detector, ...]], start: int, stop: int
    ) -> ValuationResult:
        """Run the detectors and combine their ranks (unit 0); sets ``scores_``, ``ranks_``."""
        train, valid, chosen = problem
        self.n_utility_evaluations_ = 0
        report = ProgressReporter(self.progress)
        if start == stop:
            report(1.0, method=self.method_name, n_units_done=0, n_units=0, n_evaluations=0)
            return ValuationResult.empty(train.player_names, self.method_name)
        self.scores_: dict[str, np.ndarray] = {}
        for done, name in enumerate(chosen, start=1):
            estimator = self._detector(name).fit(train, valid)
            self.scores_[name] = estimator.result_.values
            self.n_utility_evaluations_ += estimator.n_utility_evaluations_
            report(
                done / len(chosen),
                method=self.method_name,
                n_units_done=done,
                n_units=len(chosen),
                n_evaluations=self.n_utility_evaluations_,
            )
        self.ranks_ = {name: normalized_ranks(v) for name, v in self.scores_.items()}
        return ValuationResult.from_samples(
            np.stack([self.ranks_[name] for name in chosen]),
            train.player_names,
            method=self.method_name,
        )

    def _chosen(self) -> tuple[Detector, ...]:
        if self.task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', got {self.task!r}")
        if self.methods is None:
            return DETECTORS if self.task == "classification" else DETECTORS[:2]
        chosen = tuple(self.methods)
        unknown = [name for name in chosen if name not in DETECTORS]
        if unknown or not chosen or len(set(chosen)) != len(chosen):
            raise ValueError(f"methods must be distinct names among {DETECTORS}, got {chosen}")
        if "lava" in chosen and self.task == "regression":
            raise ValueError("LAVA needs classes: leave it out for regression")
        return chosen

    def _detector(self, name: Detector) -> Any:
        if name == "knn-shapley":
            return KNNShapley(k=self.k, task=self.task)
        if name == "data-oob":
            return DataOOB(
                n_estimators=self.n_estimators, task=self.task, random_state=self.random_state
            )
        return LAVA(random_state=self.random_state)
