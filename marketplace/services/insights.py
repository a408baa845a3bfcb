"""What a task's valuation tells beyond the price, computed by a worker once a task is quoted.

The analysis is :func:`valuation.core.insights.buyer_insights` on the consumer's own rows and
every candidate's rows (grouped by dataset), against their validation rows. This module
loads that data, names every source and row by its dataset id (:func:`_named`), stores the
report for the consumer (``TaskInsight.report``: a versioned
:class:`~valuation.core.report.InsightReport`) and the per-row values beside it (the basis
of :func:`task_row_offer`, stored as a versioned :class:`~pricing.row_offer.RowOffer`), and
gives each candidate dataset a :class:`~marketplace.models.QualitySignal` for its provider —
who only ever reads those aggregated across consumers
(:func:`marketplace.selectors.insights.dataset_quality_from_tasks`).

Debugging and sensitivity look at the data the consumer would buy: their own rows and the
offered bundle (every candidate when nothing is offered). Everything is stored whole; what
a reader may see (rows of datasets they have not bought stay hidden) is decided when it is
read (:func:`marketplace.selectors.insights.insight_for`).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from dataclasses import replace
from fractions import Fraction

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from marketplace.models import Dataset, QualitySignal, Task, TaskInsight
from marketplace.services.errors import Conflict, PermissionDenied, ServiceError
from pricing.money import check_cents
from pricing.row_offer import RowOffer
from pricing.settlement import settle
from valuation.core.acquisition import buy_top_rows, row_prices
from valuation.core.catalog import make_model
from valuation.core.dataset import Dataset as Rows
from valuation.core.insights import buyer_insights
from valuation.core.report import InsightReport, Player, map_rows
from valuation.data import job_data
from work.services import TRANSIENT, enqueue

logger = logging.getLogger(__name__)

#: The Celery task that computes one task's insights (marketplace/tasks.py).
COMPUTE_INSIGHTS = "marketplace.compute_insights"
#: The group name of the consumer's own training rows (the task's baseline).
OWN = "own"


def _bundle(task: Task) -> tuple[Rows, Rows, str, int]:
    """The consumer's own rows and every candidate's rows, grouped by dataset id (``own`` for
    the consumer's), the validation rows, the learning task and the job's seed."""
    job = task.valuation_job
    data = job_data(job.spec)
    train, baseline = data.train, data.baseline
    parts_X, parts_y = [train.X], [train.y]
    parts_group = [train.player_names[train.player_of_row].astype(object)]
    if baseline is not None:
        parts_X.insert(0, baseline.X)
        parts_y.insert(0, baseline.y)
        parts_group.insert(0, np.full(baseline.n_rows, OWN, dtype=object))
    rows = Rows(
        # Without a baseline the job's own arrays, not a copy (a million rows are 100s of MB).
        np.concatenate(parts_X) if baseline is not None else train.X,
        np.concatenate(parts_y) if baseline is not None else train.y,
        groups=np.concatenate(parts_group),
        feature_names=train.feature_names,
    )
    return rows, data.valid, job.spec.task, job.seed % (2**32)


def insight_schedule(task: Task) -> TaskInsight:
    """Create the task's pending insights and queue their computation (sent to a worker
    once this commits)."""
    with transaction.atomic():
        insight, _ = TaskInsight.objects.get_or_create(task=task)
        enqueue(COMPUTE_INSIGHTS, [task.pk])
    return insight


def insight_abandon(task_id: int, reason: str) -> None:
    """Mark insights whose computation was given up as failed, saying why (the quote stands
    without them)."""
    TaskInsight.objects.filter(task_id=task_id).exclude(status=TaskInsight.Status.READY).update(
        status=TaskInsight.Status.FAILED, error=f"the computation {reason}"
    )


def insight_run(task_id: int) -> TaskInsight:
    """Compute a quoted task's insights (module docstring); a ready insight is left alone."""
    insight, _ = TaskInsight.objects.get_or_create(task_id=task_id)
    if insight.status == TaskInsight.Status.READY:
        return insight
    task = Task.objects.select_related("valuation_job").get(pk=task_id)
    try:
        report, values = _compute(task)
    except TRANSIENT:
        raise  # the database was briefly unreachable: the Celery task retries
    except Exception as exc:  # the quote stands without insights; say why they are missing
        logger.exception("insights of task %s failed", task_id)
        insight.status = TaskInsight.Status.FAILED
        insight.error = str(exc) or type(exc).__name__
        insight.save(update_fields=["status", "error", "updated_at"])
        return insight
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **values)
    with transaction.atomic():
        insight.row_values_file.save("row-values.npz", ContentFile(buffer.getvalue()), save=False)
        insight.report = report.to_dict()
        insight.status = TaskInsight.Status.READY
        insight.error = ""
        insight.save()
    return insight


def _compute(task: Task) -> tuple[InsightReport, dict[str, np.ndarray]]:
    options = settings.DATAFAIR_INSIGHTS
    rows, valid, task_type, seed = _bundle(task)
    offered = [str(d) for d in (task.quote or {}).get("offer", {}).get("bundle", [])]
    found = buyer_insights(
        rows,
        valid,
        model=make_model(task.model, task_type),
        scorer=task.metric,
        task=task_type,
        own=[OWN],
        looked_at=offered or None,
        share=options["suspect_share"],
        k=options["k"],
        random_state=seed,
        n_estimators=settings.DATAFAIR_DETECTOR_BAGS,
        max_rows=options["max_rows"],
    )
    candidates = sorted(found.source_suspects, key=int)
    titles = dict(Dataset.objects.filter(pk__in=candidates).values_list("pk", "title"))
    for name, (suspects, score_after) in found.source_suspects.items():
        QualitySignal.objects.update_or_create(
            dataset_id=int(name),
            task=task,
            defaults={
                "suspects": suspects,
                "score_before": found.report.prune.score,
                "score_after": score_after,
                "metric": task.metric,
            },
        )
    report = _named(found.report, titles)
    dataset = np.array([-1 if name == OWN else int(name) for name in found.source], dtype=np.int64)
    return report, {"value": found.values, "dataset": dataset, "position": found.position}


def _dataset(name: Player) -> int | None:
    """The market's name of an engine source: its dataset id, None for the consumer's own."""
    return None if name in (None, OWN) else int(name)


def _named(report: InsightReport, titles: dict[int, str]) -> InsightReport:
    """The engine's report with every source and row named as the market names them: the
    dataset id (None for the consumer's own rows), and a candidate's title beside its id."""
    named = map_rows(report, lambda ref: replace(ref, player=_dataset(ref.player)))

    def titled(section):
        dataset = _dataset(section.source)
        return replace(section, source=dataset, title=titles.get(dataset, ""))

    return replace(
        named,
        looked_at=tuple(sorted(_dataset(name) for name in report.looked_at)),
        prune=replace(named.prune, sources=tuple(map(titled, named.prune.sources))),
        rows=replace(named.rows, by_source=tuple(map(titled, named.rows.by_source))),
    )


# --- row-level offers -------------------------------------------------------------------------


def _row_values(insight: TaskInsight) -> dict[str, np.ndarray]:
    with insight.row_values_file.open("rb") as handle, np.load(handle) as arrays:
        return {name: arrays[name] for name in arrays.files}


def task_row_offer(*, task: Task, user, budget_cents: int) -> RowOffer:
    """Offer the most valuable candidate rows of a quoted task within ``budget_cents``.

    Each row is priced from its KNN-Shapley value at the task's value of a point,
    ``max(floor, round(100 · cents_per_point · value))`` where ``floor`` is the dataset's
    reserve spread over its rows (at least a cent); rows are taken from the most valuable
    down while they fit the budget (:func:`valuation.core.acquisition.buy_top_rows`), the
    charge is the sum of their prices, and the settlement splits it between the datasets'
    providers in proportion to what their rows cost, after the platform fee — exact cents.
    The offer is stored on the task's insights; buying it is ``task_purchase(kind="rows")``.
    """
    if task.consumer_id != user.pk:
        raise PermissionDenied("this is not your task")
    if task.status != Task.Status.QUOTED:
        raise Conflict(f"the task is {task.status}; rows are offered on a quoted task")
    insight = TaskInsight.objects.filter(task=task).first()
    if insight is None or insight.status != TaskInsight.Status.READY:
        raise Conflict("the row values of this task are not ready yet; try again shortly")
    try:
        check_cents(budget_cents, "budget_cents")
    except (TypeError, ValueError) as exc:
        raise ServiceError(str(exc), field="budget_cents") from None
    if budget_cents > task.budget_cents:
        raise ServiceError(
            f"the budget is {budget_cents} cents; this task's budget is {task.budget_cents}",
            field="budget_cents",
        )
    arrays = _row_values(insight)
    sold = arrays["dataset"] >= 0
    values, datasets, positions = (arrays[n][sold] for n in ("value", "dataset", "position"))
    listed = Dataset.objects.filter(pk__in=np.unique(datasets).tolist())
    floors = {
        d.pk: max(1, -(-d.reserve_price_cents // max(d.n_rows, 1)))
        for d in listed
        if d.status == Dataset.Status.PUBLISHED
    }
    on_sale = np.isin(datasets, list(floors))
    prices = row_prices(values, rate=100 * task.value_per_point_cents)
    prices = np.maximum(prices, [floors.get(int(d), 1) for d in datasets])
    values = np.where(on_sale, values, 0.0)
    chosen = buy_top_rows(values, prices, budget_cents)
    rows: dict[str, list[int]] = {}
    cents: dict[str, int] = {}
    for dataset in np.unique(datasets[chosen]).tolist():
        mine = chosen[datasets[chosen] == dataset]
        rows[str(dataset)] = positions[mine].tolist()
        cents[str(dataset)] = int(prices[mine].sum())
    charge = int(prices[chosen].sum())
    offer = RowOffer(
        budget_cents=budget_cents,
        rows={dataset: tuple(positions) for dataset, positions in rows.items()},
        value=float(values[chosen].sum()),
        price_cents=charge,
        row_cents=cents,
        settlement=settle(
            charge,
            {d: Fraction(c, charge) for d, c in cents.items()},
            fee_bps=settings.DATAFAIR_FEE_BPS,
        )
        if charge
        else None,
        # Names this offer: a purchase that quotes another key (a newer offer was made
        # meanwhile, say in another tab) is refused rather than buying rows nobody looked at.
        key=hashlib.sha256(json.dumps([rows, charge], sort_keys=True).encode()).hexdigest()[:16],
    )
    insight.row_offer = offer.to_dict()
    insight.save(update_fields=["row_offer", "updated_at"])
    return offer
