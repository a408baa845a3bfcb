"""What a person may read of the insights: a provider's across-task quality signals and a
consumer's task insights, with the rows of datasets they have not bought hidden.

A task's report is read as the typed :class:`~valuation.core.report.InsightReport`, and what
its consumer may not see is hidden on that object (:func:`report_readable`): every
:class:`~valuation.core.report.RowRef` of a dataset they neither own nor bought — in any
section, including one added after this was written — loses its content
(:data:`~valuation.core.report.ROW_CONTENT`) and keeps only its dataset.

Providers only ever see aggregates: the signals of one dataset are shown once tasks of at
least ``DATAFAIR_INSIGHTS["min_consumers"]`` different consumers have valued it, and then only
as counts per row and a mean measured change — never a single task's result, which would
tell a provider something about that consumer's validation data.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from statistics import fmean
from typing import TypeVar

from django.conf import settings

from marketplace.models import Dataset, Entitlement, QualitySignal, Task, TaskInsight
from marketplace.services.errors import PermissionDenied
from pricing.row_offer import RowOffer
from valuation.core.report import InsightReport, RowRef, map_rows

R = TypeVar("R")

#: Rows listed in a provider's across-task report (most often flagged first).
MAX_ROWS_SHOWN = 50


def dataset_quality_from_tasks(dataset: Dataset) -> dict:
    """The across-task quality report of ``dataset`` (the module docstring says what is shown).

    Returns ``{"shown", "consumers", "tasks", "min_consumers", "metrics", "mean_change",
    "rows"}``; ``rows`` lists ``{"row", "flagged_by", "share"}`` (``share`` of the tasks that
    flagged the row), only rows flagged by at least two tasks, most often flagged first.
    """
    signals = list(
        QualitySignal.objects.filter(dataset=dataset).select_related("task").order_by("pk")
    )
    consumers = {signal.task.consumer_id for signal in signals}
    minimum = settings.DATAFAIR_INSIGHTS["min_consumers"]
    report = {
        "shown": len(consumers) >= minimum,
        "consumers": len(consumers),
        "tasks": len(signals),
        "min_consumers": minimum,
        "metrics": [],
        "mean_change": None,
        "rows": [],
    }
    if not report["shown"]:
        return report
    flagged = Counter(row for signal in signals for row in signal.suspects)
    report["metrics"] = sorted({signal.metric for signal in signals})
    report["mean_change"] = fmean(s.score_after - s.score_before for s in signals)
    report["rows"] = [
        {"row": row, "flagged_by": count, "share": count / len(signals)}
        for row, count in sorted(flagged.items(), key=lambda item: (-item[1], item[0]))
        if count >= 2
    ][:MAX_ROWS_SHOWN]
    return report


def entitled_rows(*, user, dataset_ids) -> dict[int, set[int] | None]:
    """Which rows of each dataset ``user`` may see: ``None`` for all of them (owned or bought
    whole), a set for a row-level purchase; datasets with neither are absent."""
    out: dict[int, set[int] | None] = {}
    owned = Dataset.objects.filter(pk__in=dataset_ids, owner=user).values_list("pk", flat=True)
    for pk in owned:
        out[pk] = None
    for dataset_id, rows in Entitlement.objects.filter(
        user=user, dataset_id__in=dataset_ids
    ).values_list("dataset_id", "rows"):
        if dataset_id in out and out[dataset_id] is None:
            continue
        out[dataset_id] = None if rows is None else out.get(dataset_id, set()) | set(rows)
    return out


@dataclass(frozen=True)
class ReadableInsight:
    """A task's insights as one reader may see them: ``status`` (``none`` before any were
    scheduled, else the stored one), the ``report`` with hidden rows (None until ready),
    the latest ``row_offer`` and, for failed insights, the ``error``."""

    status: str
    report: InsightReport | None
    row_offer: RowOffer | None
    error: str


def insight_for(*, task: Task, user) -> ReadableInsight:
    """The task's insights as ``user``, its consumer, may see them (:func:`report_readable`)."""
    if task.consumer_id != user.pk:
        raise PermissionDenied("this is not your task")
    insight = TaskInsight.objects.filter(task=task).first()
    if insight is None:
        return ReadableInsight(status="none", report=None, row_offer=None, error="")
    report = None
    if insight.report:
        report = report_readable(
            InsightReport.from_dict(insight.report),
            user=user,
            dataset_ids=task.candidates.values_list("pk", flat=True),
        )
    return ReadableInsight(
        status=insight.status,
        report=report,
        row_offer=None if insight.row_offer is None else RowOffer.from_dict(insight.row_offer),
        error=insight.error,
    )


def report_readable(report: R, *, user, dataset_ids) -> R:
    """``report`` (an insight report, or any record holding row references) with every row
    reference ``user`` may not see hidden: a row of a dataset among ``dataset_ids`` that
    they neither own nor bought (whole or that row). The consumer's own rows (dataset None)
    stay shown."""
    visible = entitled_rows(user=user, dataset_ids=dataset_ids)

    def readable(ref: RowRef) -> RowRef:
        if ref.player is None:
            return ref
        allowed = visible.get(ref.player, set())
        return ref if allowed is None or ref.row in allowed else ref.hidden()

    return map_rows(report, readable)
