"""What a person may read of the insights: a provider's across-task quality signals and a
consumer's task insights, with the rows of datasets they have not bought hidden.

Providers only ever see aggregates: the signals of one dataset are shown once tasks of at
least ``DATAFAIR_INSIGHTS["min_consumers"]`` different consumers have valued it, and then only
as counts per row and a mean measured change — never a single task's result, which would
tell a provider something about that consumer's validation data.
"""

from __future__ import annotations

from collections import Counter
from statistics import fmean

from django.conf import settings

from marketplace.models import Dataset, Entitlement, QualitySignal

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
