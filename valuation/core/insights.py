"""What a valuation can tell a buyer beyond the price, for a bundle of data sources.

:func:`buyer_insights` takes the buyer's training rows grouped by source (their own rows and
each candidate dataset) and their validation rows, and answers:

* **what to drop** — for each candidate source, the metric measured after dropping it and
  the 95% paired-bootstrap interval of the change over validation rows; it is *suggested*
  only when the interval's lower end is above 0 (a change within the noise of the
  validation sample is no reason to drop data). Likewise for the suspect rows (lowest ``share`` by
  :class:`~valuation.core.methods.consensus.Consensus` of KNN-Shapley, Data-OOB and LAVA),
  each with the metric *measured* after dropping them — a refit of the buyer's model, never
  a prediction from the values — and the interval of the change. With ``max_rows`` the
  detectors examine a seeded sample of about that many rows, each source in proportion
  (and at least :data:`MIN_EXAMINED_PER_SOURCE` of its rows), and suspects are the lowest
  ``share`` of the rows examined: their cost grows with the sample, not with the data (at
  75,000 rows they took 38 of 42 seconds and most of 1.9 GiB);
* **what each source's own worst rows cost** — per candidate source, its lowest ``share`` of
  rows and the metric without them (what a marketplace aggregates for the source's owner);
* **why the model errs** — for mispredicted validation rows, the training rows behind each
  (:func:`~valuation.core.debugging.explain_mispredictions`), and **how fragile its
  conclusions are** (:func:`~valuation.core.debugging.sensitivity_report`), both on the
  buyer's own rows and the sources ``looked_at`` (the ones they would buy);
* **what each row is worth** — KNN-Shapley values of every row on the validation rows, the
  basis of row-level prices.

All removals are refits through one :class:`~valuation.core.utility.ModelUtility` game with
rows as players, so the full fit is computed once. Rows are identified as ``(source, row
within source)``: every row the report names is a :class:`~valuation.core.report.RowRef`.
What is told is an :class:`~valuation.core.report.InsightReport` (typed, versioned,
JSON-safe); the per-row arrays and each source's own worst rows come beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from valuation.core.dataset import Dataset
from valuation.core.debugging import explain_mispredictions, sensitivity_report
from valuation.core.lift import compare_fits
from valuation.core.methods.consensus import Consensus
from valuation.core.methods.knn import KNNShapley
from valuation.core.report import (
    Debug,
    InsightReport,
    Prune,
    RowRef,
    RowSummary,
    RowValues,
    Sensitivity,
    SourceRemoval,
    SuspectRemoval,
)
from valuation.core.utility import ModelUtility

#: With ``max_rows``, each source still has at least this many of its rows examined (all
#: of them when it has fewer), so a small source is judged on its own rows.
MIN_EXAMINED_PER_SOURCE = 100


@dataclass(frozen=True)
class BuyerInsights:
    """What :func:`buyer_insights` found (see the module docstring).

    Attributes
    ----------
    report : InsightReport
        What the buyer is told: sources and suspect rows to drop, explanations,
        sensitivity and each candidate source's row values; sources are named as in
        ``train``.
    source_suspects : dict of str to (list of int, float)
        Per candidate source: its own lowest-share rows (positions within it) and the metric
        without them.
    values : numpy.ndarray
        KNN-Shapley value of every training row.
    source, position : numpy.ndarray
        Each row's source name and its position within that source.
    """

    report: InsightReport
    source_suspects: dict[str, tuple[list[int], float]]
    values: np.ndarray
    source: np.ndarray
    position: np.ndarray


def buyer_insights(
    train: Dataset,
    valid: Dataset,
    *,
    model: Any,
    scorer: str | None = None,
    task: Literal["classification", "regression"] = "classification",
    own: Sequence[str] = (),
    looked_at: Sequence[str] | None = None,
    share: float = 0.1,
    k: int = 5,
    random_state: int | None = None,
    n_estimators: int = 100,
    max_rows: int | None = None,
) -> BuyerInsights:
    """Insights for a buyer of the sources (groups) of ``train`` (module docstring).

    Parameters
    ----------
    train : Dataset
        Training rows grouped by source (``groups``); ungrouped means one source per row.
    valid : Dataset
        The buyer's validation rows.
    model, scorer, task
        The buyer's model, metric and learning task.
    own : sequence of str
        Sources that are the buyer's own rows: never suggested for dropping as a whole.
    looked_at : sequence of str, optional
        Candidate sources that debugging and sensitivity look at besides ``own``; default
        every source.
    share : float, default 0.1
        Share of rows, lowest consensus first, that are suspects.
    k : int, default 5
        Neighbours of KNN-Shapley (values, consensus, explanations).
    random_state : int, optional
        Seed of the detectors.
    n_estimators : int, default 100
        Bags of Data-OOB in the consensus.
    max_rows : int, optional
        Rows the detectors examine, about (module docstring); default every row.
    """
    if not 0 < share < 1:
        raise ValueError(f"share must be in (0, 1), got {share!r}")
    source = train.player_names[train.player_of_row].astype(str)
    position = np.zeros(train.n_rows, dtype=np.int64)
    for name in np.unique(source):
        members = np.flatnonzero(source == name)
        position[members] = np.arange(members.size)
    rows = Dataset(train.X, train.y, feature_names=train.feature_names)
    candidates = [name for name in np.unique(source).tolist() if name not in set(own)]

    examined = _examined(source, max_rows, random_state)
    consensus = Consensus(task=task, k=k, n_estimators=n_estimators, random_state=random_state)
    consensus.fit(Dataset(train.X[examined], train.y[examined]), valid)
    ranks = np.full(train.n_rows, np.inf)
    ranks[examined] = consensus.result_.values
    is_examined = np.zeros(train.n_rows, dtype=bool)
    is_examined[examined] = True
    game = ModelUtility(model, scorer, task=task).bind(rows, valid)
    everyone = np.arange(train.n_rows)
    full = game.fitted_model(everyone)
    seed = 0 if random_state is None else random_state

    def without(dropped: np.ndarray) -> dict[str, Any]:
        """The fields of a :class:`~valuation.core.report.Removal` of ``dropped``."""
        keep = np.ones(train.n_rows, dtype=bool)
        keep[dropped] = False
        kept = game.fitted_model(everyone[keep])
        change = compare_fits(game.scorer, kept, full, valid, random_state=seed)
        return {
            "score_before": change.baseline_score,
            "score_after": change.bundle_score,
            "change": change.estimate,
            "change_lower": change.lower,
            "change_upper": change.upper,
            "suggested": change.lower > 0,
        }

    def lowest(members: np.ndarray) -> np.ndarray:
        members = members[is_examined[members]]
        count = max(1, int(round(share * members.size)))
        return np.sort(members[np.argsort(ranks[members], kind="stable")[:count]])

    sources, source_suspects = [], {}
    for name in candidates:
        members = np.flatnonzero(source == name)
        sources.append(SourceRemoval(source=name, rows=int(members.size), **without(members)))
        worst = lowest(members)
        source_suspects[name] = (position[worst].tolist(), without(worst)["score_after"])
    sources.sort(key=lambda item: -item.change)
    suspects = lowest(np.arange(train.n_rows))
    drop_rows = SuspectRemoval(
        count=int(suspects.size),
        examined=int(examined.size),
        training_rows=int(train.n_rows),
        rows=tuple(RowRef(str(source[row]), int(position[row])) for row in suspects),
        **without(suspects),
    )

    looked_at = sorted(candidates if looked_at is None else looked_at)
    seen = set(own) | set(looked_at)
    focus = np.flatnonzero(np.isin(source, sorted(seen)))
    if focus.size == train.n_rows:  # every row: the arrays themselves, not a copy
        subset = Dataset(train.X, train.y, groups=source, feature_names=train.feature_names)
    else:
        subset = Dataset(
            train.X[focus], train.y[focus], groups=source[focus], feature_names=train.feature_names
        )
    values = KNNShapley(k=k, task=task).fit(rows, valid).result_.values
    report = InsightReport(
        metric=scorer,
        suspect_share=share,
        looked_at=tuple(looked_at),
        prune=Prune(score=drop_rows.score_before, sources=tuple(sources), suspects=drop_rows),
        debug=_debug(subset, valid, model, task, k),
        sensitivity=_sensitivity(subset, valid, task),
        rows=RowValues(
            k=k,
            by_source=tuple(
                RowSummary(
                    source=name,
                    rows=int((source == name).sum()),
                    positive_rows=int(((source == name) & (values > 0)).sum()),
                    value_sum=float(values[source == name].sum()),
                )
                for name in candidates
            ),
        ),
    )
    return BuyerInsights(
        report=report,
        source_suspects=source_suspects,
        values=values,
        source=source,
        position=position,
    )


def _examined(source: np.ndarray, max_rows: int | None, random_state: int | None) -> np.ndarray:
    """Sorted rows the detectors see: all, or a seeded sample of about ``max_rows``, each
    source in proportion to its rows and with at least ``MIN_EXAMINED_PER_SOURCE``."""
    if max_rows is None or source.size <= max_rows:
        return np.arange(source.size)
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    rng = np.random.default_rng(random_state)
    picked = []
    for name in np.unique(source):
        members = np.flatnonzero(source == name)
        quota = max(MIN_EXAMINED_PER_SOURCE, round(max_rows * members.size / source.size))
        picked.append(rng.choice(members, size=min(quota, members.size), replace=False))
    return np.sort(np.concatenate(picked))


def _debug(train: Dataset, valid: Dataset, model: Any, task: str, k: int) -> Debug:
    if task != "classification":
        return Debug(
            n_valid=valid.n_rows,
            error="explanations of mispredictions are for classification tasks",
        )
    points = explain_mispredictions(train, valid, model=model, k=k)
    return Debug(points=tuple(points), n_valid=valid.n_rows)


def _sensitivity(train: Dataset, valid: Dataset, task: str) -> Sensitivity:
    try:
        return sensitivity_report(train, valid, task=task)
    except ValueError as exc:  # e.g. a singular design: say why instead of failing the rest
        return Sensitivity(n_rows=train.n_rows, error=str(exc))
