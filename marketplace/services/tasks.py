"""Demand: submitting a task (its budget is held), quoting it when its valuation ends,
cancelling it.

The valuation job only knows file paths and players; this module decides which datasets
play (the candidates), turns the job's values into a quote through :mod:`pricing`, and
keeps the consumer's hold in step with the task's life: held on submission, released on
failure, cancellation or a quote without a sale, captured on purchase.

Quoting (refits on the consumer's data, bootstraps, the bundle choice) is its own unit of
work (:data:`QUOTE_TASK`), queued when the task's last job succeeds: a worker that dies
while pricing loses only the pricing, which another worker redoes from the stored values.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from marketplace.models import Dataset, Task
from marketplace.quality import DatasetQuality
from marketplace.services.datasets import read_upload
from marketplace.services.errors import Conflict, PermissionDenied, ServiceError, Throttled
from marketplace.services.insights import insight_schedule
from marketplace.services.storage import files_with_rows
from marketplace.services.wallet import check_amount, wallet_hold, wallet_release
from pricing.bundle import choose_bundle
from pricing.explanation import Line
from pricing.lift import Lift
from pricing.quote import ROW_BASIS, BundleValuation, quote
from pricing.shares import Contribution
from valuation.core.catalog import METRIC_LABELS, check_metric, make_model, payout_basis
from valuation.core.chunking import UtilityTable
from valuation.core.lift import measure_lift
from valuation.core.result import ValuationResult
from valuation.core.tabular import Encoder, Schema
from valuation.core.utility import ModelUtility
from valuation.data import job_data
from valuation.methods import EXACT_MAX_PLAYERS, ROW_METHOD, build_estimator
from valuation.models import ValuationJob
from valuation.services import job_cancel, job_create, job_enqueue, job_waits_for_broker
from valuation.spec import JobSpec, PlayerSpec
from work.services import TRANSIENT, any_unsent, enqueue

logger = logging.getLogger(__name__)

#: The Celery task that prices one task once its valuation succeeded (marketplace/tasks.py).
QUOTE_TASK = "marketplace.quote_task"


def _candidates(consumer, schema: Schema, requested: list[int] | None) -> list[Dataset]:
    published = Dataset.objects.filter(status=Dataset.Status.PUBLISHED).exclude(owner=consumer)
    if requested is None:
        chosen = [d for d in published if not schema.problems_with(Schema.from_dict(d.schema))]
        if not chosen:
            raise ServiceError(
                "no dataset on the market has this task's feature columns and label type",
                field="validation_file",
            )
        return chosen
    found = {d.pk: d for d in published.filter(pk__in=requested)}
    for pk in requested:
        if pk not in found:
            raise ServiceError(f"dataset {pk} is not on sale to you", field="candidates")
        problems = schema.problems_with(Schema.from_dict(found[pk].schema))
        if problems:
            raise ServiceError(
                f"dataset {pk} does not fit this task: {'; '.join(problems)}", field="candidates"
            )
    return [found[pk] for pk in dict.fromkeys(requested)]


def _check_rate(consumer) -> None:
    """At most DATAFAIR_TASKS_PER_HOUR tasks per consumer in any hour (counted in the
    database, so every web and API process agrees). :func:`task_submit` checks it once
    early (to refuse before reading files) and again under a lock on the consumer's row in
    the transaction that inserts the task, so concurrent submissions cannot both pass."""
    limit = settings.DATAFAIR_TASKS_PER_HOUR
    if limit <= 0:
        raise Throttled("this server is not accepting new valuations", retry_after=3600)
    since = timezone.now() - timedelta(hours=1)
    recent = list(
        Task.objects.filter(consumer=consumer, created_at__gte=since)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:limit]
    )
    if len(recent) >= limit:
        wait = int((recent[-1] + timedelta(hours=1) - timezone.now()).total_seconds()) + 1
        raise Throttled(
            f"you have started {limit} valuations in the past hour; try again in "
            f"{max(1, wait // 60)} minute(s)",
            retry_after=wait,
        )


def task_submit(
    *,
    consumer,
    validation_file,
    label_column: str,
    metric: str,
    model: str,
    budget_cents: int,
    value_per_point_cents: int,
    baseline_file=None,
    candidates: list[int] | None = None,
    title: str = "",
) -> Task:
    """Check the task, hold its budget, persist it and start its valuation."""
    if not consumer.profile.is_consumer:
        raise PermissionDenied("only consumers can submit tasks")
    check_amount(budget_cents, "budget_cents")
    check_amount(value_per_point_cents, "value_per_point_cents", minimum=0)
    _check_rate(consumer)
    _, schema, valid_raw = read_upload(validation_file, field="validation_file", label=label_column)
    try:
        check_metric(metric, schema.task)
    except ValueError as exc:
        raise ServiceError(str(exc), field="metric") from None
    try:
        make_model(model, schema.task)
    except ValueError as exc:
        raise ServiceError(str(exc), field="model") from None
    baseline_raw = None
    if baseline_file is not None:
        _, base_schema, baseline_raw = read_upload(
            baseline_file, field="baseline_file", label=label_column
        )
        problems = schema.problems_with(base_schema)
        if problems:
            raise ServiceError(
                f"the baseline does not match the validation data: {'; '.join(problems)}",
                field="baseline_file",
            )
    chosen = _candidates(consumer, schema, candidates)
    encoder = Encoder.for_schemas(schema, [Schema.from_dict(d.schema) for d in chosen])
    with files_with_rows() as save:
        # Submissions of one consumer queue here (SQLite's IMMEDIATE transactions already do).
        get_user_model().objects.select_for_update().get(pk=consumer.pk)
        _check_rate(consumer)
        task = Task(
            consumer=consumer,
            title=title,
            label_column=label_column,
            metric=metric,
            model=model,
            budget_cents=budget_cents,
            value_per_point_cents=value_per_point_cents,
            schema=schema.to_dict(),
            held_cents=budget_cents,
        )
        save(task.validation_file, validation_file.name, valid_raw)
        if baseline_raw is not None:
            save(task.baseline_file, baseline_file.name, baseline_raw)
        task.save()
        task.candidates.set(chosen)
        wallet_hold(user=consumer, amount_cents=budget_cents, reference=f"task:{task.pk}")
        spec = JobSpec(
            task=schema.task,
            label=label_column,
            label_kind=schema.label_kind,
            features=tuple(c.to_dict() for c in encoder.features),
            # Oldest upload first: a row that copies an earlier upload's is credited to it.
            players=tuple(
                PlayerSpec(str(d.pk), d.columnar_file.name, d.n_rows)
                for d in sorted(chosen, key=lambda d: d.pk)
            ),
            valid=task.validation_file.name,
            baseline=task.baseline_file.name or None,
            model=model,
            metric=metric,
            **settings.DATAFAIR_VALUATION,
        )
        basis_metric, floor = payout_basis(metric, schema.task)
        task.valuation_job = job_create(
            spec=spec.replace(metric=basis_metric, floor=floor, copies=True), method=ROW_METHOD
        )
        if len(chosen) <= EXACT_MAX_PLAYERS:
            task.bundle_job = job_create(spec=spec, method="exact", seed=task.valuation_job.seed)
        task.save(update_fields=["valuation_job", "bundle_job"])
        for job in task_jobs(task):
            job_enqueue(job)
    return task


#: A task in one of these states still holds its budget and waits for its quote.
IN_PROGRESS = (Task.Status.QUEUED, Task.Status.RUNNING)


def task_jobs(task: Task) -> list[ValuationJob]:
    """The task's valuation jobs: the payout basis, then the bundle table if it has one."""
    return [job for job in (task.valuation_job, task.bundle_job) if job is not None]


def task_status(task: Task) -> str:
    """The status a person sees: a queued task whose valuation has started is running."""
    started = any(job.status != ValuationJob.Status.PENDING for job in task_jobs(task))
    if task.status == Task.Status.QUEUED and started:
        return Task.Status.RUNNING
    return task.status


def task_progress(task: Task) -> dict | None:
    """How far the task's valuation is: its jobs' progress weighted by their fits (the
    bundle table's coalitions are fits, and so are the payout basis's planned draws)."""
    jobs = task_jobs(task)
    if not jobs:
        return None
    weights = [max(1, _planned_fits(job)) for job in jobs]
    fraction = sum(w * job.progress for w, job in zip(weights, jobs)) / sum(weights)
    running = [job for job in jobs if job.status not in ValuationJob.FINISHED]
    # The task waits for its slowest job; one without an estimate yet leaves it unknown.
    etas = [job.eta_seconds for job in running]
    eta = 0.0 if not running else None if None in etas else max(etas)
    return {
        "fraction": fraction,
        "eta_seconds": eta,
        "method": " + ".join(job.method for job in jobs),
        "utility_evaluations": sum(job.n_utility_evaluations for job in jobs),
        "waiting_for_broker": any(job_waits_for_broker(job) for job in running)
        or (not running and task.status in IN_PROGRESS and any_unsent(QUOTE_TASK, [task.pk])),
    }


def _planned_fits(job: ValuationJob) -> int:
    if job.method == ROW_METHOD:
        return job.units_planned * build_estimator(job.method, job.spec, job.seed).fits_per_unit(
            job.spec.n_rows
        )
    return job.units_planned


def _release_hold(task: Task, status: str, error: str = "") -> None:
    with transaction.atomic():
        task = Task.objects.select_for_update().get(pk=task.pk)
        if task.status not in (Task.Status.QUEUED, Task.Status.RUNNING, Task.Status.QUOTED):
            return
        wallet_release(
            user=task.consumer, amount_cents=task.held_cents, reference=f"task:{task.pk}"
        )
        task.held_cents = 0
        task.status = status
        task.error = error
        task.save(update_fields=["held_cents", "status", "error", "updated_at"])


def task_cancel(*, task: Task, user) -> Task:
    if task.consumer_id != user.pk:
        raise PermissionDenied("this is not your task")
    if task.status in (Task.Status.PURCHASED, Task.Status.FAILED, Task.Status.CANCELLED):
        raise Conflict(f"the task is already {task.status}")
    stopped = [job_cancel(job, reason="cancelled by the consumer") for job in task_jobs(task)]
    if not any(stopped):
        _release_hold(task, Task.Status.CANCELLED)
    task.refresh_from_db()
    if task.status != Task.Status.CANCELLED:
        # A purchase (or a failure) committed between the check above and the release,
        # which left the task as it was: the cancel lost.
        raise Conflict(f"the task was {task.status} before it could be cancelled")
    return task


# --- quoting --------------------------------------------------------------------------------


def _bundle_valuation(job: ValuationJob, task: Task, data, players: frozenset[str], values):
    """The contributions of ``players`` (their payout-basis values) and their bundle's lift
    on the consumer's metric, measured by refitting with a bootstrap interval."""
    reserves = dict(Dataset.objects.filter(pk__in=players).values_list("pk", "reserve_price_cents"))
    index = {name: i for i, name in enumerate(job.player_names)}
    utility = ModelUtility(make_model(task.model, job.spec.task), task.metric)
    lift = measure_lift(
        utility,
        data.train,
        data.valid,
        players=sorted(index[p] for p in players),
        baseline=data.baseline,
        random_state=job.seed % (2**32),
    )
    contributions = tuple(
        Contribution(
            provider_id=p,
            value=float(values[p][0]),
            stderr=float(values[p][1]),
            reserve_cents=int(reserves[int(p)]),
        )
        for p in sorted(players)
    )
    bundle = BundleValuation(
        contributions=contributions,
        lift=Lift(lift.estimate, lift.lower, lift.upper, lift.confidence),
    )
    return bundle, lift


def _confidently_better_bundle(job, task, data, table, full, datasets, offered: frozenset):
    """With every bundle scored, a bundle to offer instead of ``offered``, or None.

    The candidate is :func:`pricing.bundle.choose_bundle`'s best bundle (each bundle priced
    with its members' payout-basis values, as its sale would split). It replaces the
    standard offer only when it scores *confidently* higher on the consumer's validation rows
    (paired bootstrap of the difference), so the offer does not chase a difference of a row
    or two between datasets that can stand in for each other. Returns (bundle, difference).
    """
    choice = choose_bundle(
        table,
        reserves={str(pk): c for pk, c in datasets.values_list("pk", "reserve_price_cents")},
        budget_cents=task.budget_cents,
        cents_per_point=task.value_per_point_cents,
        fee_bps=settings.DATAFAIR_FEE_BPS,
        values={n: float(v) for n, (v, _) in full.items()},
        split="values",
    )
    if choice.best is None or frozenset(choice.best.bundle) == offered:
        return None
    best = frozenset(choice.best.bundle)
    index = {name: i for i, name in enumerate(job.player_names)}
    difference = measure_lift(
        ModelUtility(make_model(task.model, job.spec.task), task.metric),
        data.train,
        data.valid,
        players=sorted(index[p] for p in best),
        reference=sorted(index[p] for p in offered),
        baseline=data.baseline,
        random_state=job.seed % (2**32),
    )
    return (best, difference) if difference.lower > 0 else None


def _similarity(datasets) -> dict[str, dict[str, float]] | None:
    """Near-duplicate similarity between candidates, as measured when they were screened.

    Screening holds an upload that is mostly another provider's data; what it lets through
    may still overlap a little, and the quote's replication penalty (Agarwal et al., in
    :func:`pricing.quote.quote`) shares less of the pool to providers whose data others
    also sell. Only the overlap beyond chance counts: ``(s − c) / (1 − c)`` for a measured
    similarity ``s`` above ``c = DATAFAIR_SIMILARITY_CHANCE``, so independent data is not
    penalised and a full copy still counts as 1. Each upload measured the datasets before
    it, so a pair is recorded once; the larger record counts if both exist. None when no
    pair overlaps beyond chance.
    """
    chance = settings.DATAFAIR_SIMILARITY_CHANCE
    ids = {str(d.pk) for d in datasets}
    pairs: dict[str, dict[str, float]] = {}
    for dataset in datasets:
        mine = str(dataset.pk)
        for other, measured in DatasetQuality.from_dict(dataset.quality).similar_to.items():
            score = (float(measured) - chance) / (1 - chance)
            if other in ids and other != mine and score > 0:
                score = max(score, pairs.get(mine, {}).get(other, 0.0))
                pairs.setdefault(mine, {})[other] = score
                pairs.setdefault(other, {})[mine] = score
    return pairs or None


def task_quote(task: Task) -> Task:
    """Price a task whose valuation succeeded (:func:`task_quote_run` calls it in a worker).

    The split follows the payout basis (``task.valuation_job``): every candidate row valued
    as a player of the consumer's game without reading who owns it, summed per dataset. A
    dataset whose rows add nothing is left out; the pool of a smaller bundle is split by
    the same values among the datasets that remain. The bundle table (``task.bundle_job``,
    when there is one) only chooses which bundle to offer.
    """
    job, bundle_job = task.valuation_job, task.bundle_job
    data = job_data(job.spec)
    result = ValuationResult.from_dict(job.result)
    names = list(job.player_names)
    full = {n: (result.values[i], result.stderr[i]) for i, n in enumerate(names)}
    table = None
    if bundle_job is not None and bundle_job.utilities:
        cached = UtilityTable.from_dict(bundle_job.utilities).coalition_utilities()
        table = {frozenset(names[i] for i in c): u for c, u in cached.items()}
    measurements = {}

    def revalue(players: frozenset[str]) -> BundleValuation:
        bundle, lift = _bundle_valuation(job, task, data, players, full)
        measurements[players] = lift
        return bundle

    everyone = frozenset(names)
    datasets = Dataset.objects.filter(pk__in=[int(n) for n in names])
    titles = dict(datasets.values_list("pk", "title"))
    initial, measurements[everyone] = _bundle_valuation(job, task, data, everyone, full)
    basis_metric = f"your {METRIC_LABELS.get(job.spec.metric, job.spec.metric).lower()}"
    terms = {
        "budget_cents": task.budget_cents,
        "cents_per_point": task.value_per_point_cents,
        "fee_bps": settings.DATAFAIR_FEE_BPS,
        "paid_fdr": settings.DATAFAIR_PAID_FDR,
        "revalue": revalue,
        "names": {n: f"{titles.get(int(n), 'dataset')} (#{n})" for n in names},
        "similarity": _similarity(datasets),
        "basis": ROW_BASIS,
        "basis_metric": basis_metric,
    }
    offer = quote(initial, **terms)
    switch = None
    if table is not None and offer.sale:
        switch = _confidently_better_bundle(
            job, task, data, table, full, datasets, frozenset(offer.bundle)
        )
        if switch is not None:
            offer = quote(revalue(switch[0]), **terms)
    lift = measurements[frozenset(offer.bundle)] if offer.bundle else measurements[everyone]
    offer_data = offer.to_dict()
    left_aside = sorted(everyone - switch[0], key=int) if switch is not None else []
    if switch is not None:
        listed = ", ".join(f"{titles.get(int(n), 'dataset')} (#{n})" for n in left_aside)
        gain = switch[1]
        aside = Line(
            "not_offered",
            "Not offered",
            f"{listed}. Without them your model scores higher on your validation data, by "
            f"{gain.estimate * 100:.2f} points (95% interval {gain.lower * 100:.2f} to "
            f"{gain.upper * 100:.2f}), than with the bundle you would otherwise get.",
            numbers=gain.to_dict(),
        )
        offer_data["explanation"] = [aside.to_dict(), *offer_data["explanation"]]
    task.quote = {
        "offer": offer_data,
        "contributions": [
            {
                "dataset": int(n),
                "title": titles.get(int(n), ""),
                "value": float(full[n][0]),
                "stderr": float(full[n][1]),
                "in_bundle": n in offer.bundle,
                "excluded_because": offer.excluded.get(
                    n, "not_in_best_bundle" if n in left_aside else ""
                ),
            }
            for n in names
        ],
        "baseline_score": lift.baseline_score,
        "bundle_score": lift.bundle_score,
        "metric": task.metric,
        "basis": {
            "method": job.method,
            "metric": job.spec.metric,
            "rows": job.spec.n_rows,
            "utility_evaluations": job.n_utility_evaluations,
        },
        "method": job.method,
        "n_utility_evaluations": sum(j.n_utility_evaluations for j in task_jobs(task)),
    }
    with transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        if locked.status not in IN_PROGRESS:
            return locked
        locked.quote = task.quote
        locked.status = Task.Status.QUOTED
        locked.save(update_fields=["quote", "status", "updated_at"])
    if not offer.sale:
        _release_hold(task, Task.Status.QUOTED)
    task.refresh_from_db()
    return task


def on_job_finished(sender, job: ValuationJob, **kwargs) -> None:
    """Receiver of :data:`valuation.signals.job_finished`: once all of a task's jobs have
    succeeded its quote is queued; one failed or cancelled job ends the task and frees its
    budget."""
    task = (
        Task.objects.filter(Q(valuation_job=job) | Q(bundle_job=job))
        .select_related("valuation_job", "bundle_job")
        .first()
    )
    if task is None:
        return
    if job.status in (ValuationJob.Status.FAILED, ValuationJob.Status.CANCELLED):
        ended = (
            Task.Status.FAILED
            if job.status == ValuationJob.Status.FAILED
            else Task.Status.CANCELLED
        )
        _release_hold(task, ended, job.error)
        _stop_siblings(task, job)  # after the release, so the task keeps this job's reason
        return
    if _valued(task):
        with transaction.atomic():
            enqueue(QUOTE_TASK, [task.pk])


def _valued(task: Task) -> bool:
    """Whether every job of the task has succeeded (the last one to end queues the quote)."""
    return all(job.status == ValuationJob.Status.SUCCEEDED for job in task_jobs(task))


def task_quote_run(task_id: int) -> None:
    """Quote a task whose valuation succeeded, then queue its insights. A no-op on a task
    already quoted or ended, so a re-sent message is harmless; a quote that cannot be made
    fails the task and releases its hold (the money must not stay held)."""
    task = Task.objects.select_related("valuation_job", "bundle_job").get(pk=task_id)
    if task.status not in IN_PROGRESS or not _valued(task):
        return
    try:
        task = task_quote(task)
    except TRANSIENT:
        raise  # the database was briefly unreachable: the unit is retried
    except Exception as exc:
        logger.exception("quoting task %s failed", task.pk)
        _release_hold(task, Task.Status.FAILED, f"the quote could not be made: {exc}")
        return
    if task.status == Task.Status.QUOTED:
        insight_schedule(task)


def quote_abandon(task_id: int, reason: str) -> None:
    """Give up pricing a task (its unit failed too often): fail it and release its hold."""
    task = Task.objects.get(pk=task_id)
    _release_hold(task, Task.Status.FAILED, f"the quote {reason}")


def _stop_siblings(task: Task, ended: ValuationJob) -> None:
    """Cancel the task's other job: without this one there is nothing to quote."""
    for other in task_jobs(task):
        if other.pk != ended.pk:
            job_cancel(other, reason=f"job {ended.pk} {ended.status}")
