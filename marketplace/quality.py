"""A dataset's quality document (``Dataset.quality``): what its upload and its screening measured.

The upload writes it (:func:`marketplace.services.datasets.dataset_create`: rows repeated within
the file, the share also in another provider's data) and the screening completes it
(:mod:`marketplace.services.screening`: the screens' :class:`~valuation.core.detection.
ScreenNumbers` and the provider's own :class:`IntrinsicReport`); both store
:meth:`DatasetQuality.to_dict`, and every reader reads :meth:`DatasetQuality.from_dict`, which
refuses another version, unknown keys, missing keys and values of the wrong type
(:mod:`valuation.core.records`). What a person may read of it is
:func:`marketplace.selectors.datasets.dataset_quality_for`'s to say. Django-free, like the
records it is made of.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from valuation.core.detection import ScreenNumbers
from valuation.core.quality import QualityReport
from valuation.core.records import Record, Versioned


@dataclass(frozen=True)
class MeasuredRemoval(Record):
    """The metric refitted without one ``kind`` of flagged rows ("suspects", "duplicates",
    "outliers", "all"), averaged over the folds: ``change`` is ``score_after −
    score_before`` (positive: removing the ``rows`` helps)."""

    kind: str
    rows: tuple[int, ...]
    score_before: float
    score_after: float
    change: float


@dataclass(frozen=True)
class IntrinsicReport(Record):
    """The provider's report on the upload alone
    (:func:`~valuation.core.quality.cross_fitted_quality_report`), rows numbered from 0.

    ``suspects`` are the lowest-valued rows, each its ``row``, ``fold``, ``consensus`` and
    every detector's score by the detector's name ("knn-shapley", "data-oob", "lava"): a
    mapping of numbers, as the detectors that ran decide its keys."""

    n_rows: int
    scorer: str
    suspects: tuple[dict[str, float], ...]
    duplicates: tuple[int, ...]
    label_conflicts: tuple[tuple[int, ...], ...]
    outliers: tuple[int, ...]
    removals: tuple[MeasuredRemoval, ...]

    @classmethod
    def of(cls, report: QualityReport) -> IntrinsicReport:
        """The record of the engine's report."""
        return cls.from_dict(report.to_dict())


@dataclass(frozen=True)
class DatasetQuality(Versioned):
    """What was measured of a dataset: at upload, its rows repeated within the file
    (``duplicate_rows_within_file``) and the largest share of its distinct rows also in one
    other provider's dataset (``overlap_with_other_providers``); once screened, what the
    screens measured (``screening``) and the provider's report (``report``). Both are None
    until the screening has finished, and stay None when it could not."""

    VERSION: ClassVar[int] = 2
    KIND: ClassVar[str] = "a quality document"

    duplicate_rows_within_file: int
    overlap_with_other_providers: float
    screening: ScreenNumbers | None = None
    report: IntrinsicReport | None = None

    @property
    def similar_to(self) -> dict[str, float]:
        """The screening's similarity to each dataset it compared (none until screened)."""
        return {} if self.screening is None else self.screening.similar_to
