"""Valuation jobs: create and persist the work, run one chunk, fold the chunks, cancel.

The unit of work is a :class:`~valuation.models.ValuationChunk` row, queued as a unit of
:mod:`work` in the transaction that creates it (so it is sent once that commits, or by the
sweep if the broker is down, and re-sent if its worker dies). Running a chunk is
idempotent: a chunk already done, or of a finished job, is skipped under a row lock, so a
redelivered or re-sent message never counts twice. Exact jobs plan all their chunks up
front; sampling jobs plan a round of chunks at a time and stop when the stopping rule is met.
"""

from __future__ import annotations

import json
import logging
import resource
import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from valuation.core.chunking import chunk_ranges, partial_from_dict
from valuation.core.game import InMemoryCache
from valuation.core.stopping import RunState
from valuation.data import job_data
from valuation.methods import (
    PLANNED_METHODS,
    ROW_METHOD,
    build_estimator,
    stopping_rule,
    units_per_chunk,
)
from valuation.models import ValuationChunk, ValuationJob
from valuation.signals import job_finished
from valuation.spec import JobSpec
from work.services import TRANSIENT, any_unsent, enqueue

logger = logging.getLogger(__name__)

#: Chunks planned per round of a sampling job: enough to keep a few workers busy.
CHUNKS_PER_ROUND = 4

CODE_VERSION = "datafair-valuation-2"
#: The Celery task that runs one chunk (valuation/tasks.py).
RUN_CHUNK = "valuation.run_chunk"


def job_create(*, spec: JobSpec, method: str, seed: int | None = None) -> ValuationJob:
    """Persist a job and its first chunks (not yet enqueued: see :func:`job_enqueue`)."""
    n_players = len(spec.players)
    if n_players == 0:
        raise ValueError("a valuation needs at least one player")
    seed = spec.seed if seed is None else seed  # a deployment may pin it (tests do)
    seed = int(np.random.SeedSequence().entropy % (2**63)) if seed is None else seed
    n_rows = spec.n_rows
    if method == ROW_METHOD and n_rows < 1:
        raise ValueError("the row method needs every player's number of rows (players[i].rows)")
    # Built before anything is stored: an unknown method or a bad spec leaves no job behind.
    units = build_estimator(method, spec, seed).n_units(_Shape(n_players, n_rows))
    job = ValuationJob.objects.create(
        method=method,
        spec=spec,
        seed=seed,
        player_names=spec.player_names,
        code_version=CODE_VERSION,
    )
    if units is None:
        _plan_round(job)
    else:
        _add_chunks(job, chunk_ranges(units, units_per_chunk(method, spec)))
    return job


@dataclass(frozen=True)
class _Shape:
    """Stands in for the data when only its size matters (planning units): the number of
    players and, for the row method, of rows (``spec.n_rows``)."""

    n_players: int
    n_rows: int


def _add_chunks(job: ValuationJob, ranges: list[tuple[int, int]]) -> None:
    first = job.chunks.count()
    ValuationChunk.objects.bulk_create(
        ValuationChunk(job=job, index=first + i, start=a, stop=b) for i, (a, b) in enumerate(ranges)
    )
    job.units_planned = max(job.units_planned, ranges[-1][1])
    job.save(update_fields=["units_planned"])


def _plan_round(job: ValuationJob) -> None:
    size = job.spec.samples_per_chunk
    start = job.units_planned
    _add_chunks(job, [(start + i * size, start + (i + 1) * size) for i in range(CHUNKS_PER_ROUND)])


def job_enqueue(job: ValuationJob) -> None:
    """Queue every pending chunk in the current transaction; the workers get them once it
    commits, or from the sweep if the broker is down then (:mod:`work`)."""
    ids = job.chunks.filter(status=ValuationChunk.Status.PENDING).values_list("id", flat=True)
    enqueue(RUN_CHUNK, ids)


def job_waits_for_broker(job: ValuationJob) -> bool:
    """Whether some of the job's pending chunks are stored but not yet sent (the broker was
    unreachable when they were queued; the sweep sends them once it is back)."""
    pending = job.chunks.filter(status=ValuationChunk.Status.PENDING).values("pk")
    return any_unsent(RUN_CHUNK, pending)


def job_cancel(job: ValuationJob, *, reason: str = "cancelled") -> bool:
    """Stop a job; chunks still queued become no-ops. Returns whether it was running."""
    with transaction.atomic():
        job = ValuationJob.objects.select_for_update().get(pk=job.pk)
        if job.status in ValuationJob.FINISHED:
            return False
        job.status = ValuationJob.Status.CANCELLED
        job.error = reason
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
    _announce(job)
    return True


def _announce(job: ValuationJob) -> None:
    """Send :data:`job_finished`, then record that the receivers are done."""
    job_finished.send(sender=ValuationJob, job=job)
    ValuationJob.objects.filter(pk=job.pk).update(notified_at=timezone.now())


def _claim(chunk_id: int) -> ValuationChunk | None:
    with transaction.atomic():
        chunk = (
            ValuationChunk.objects.select_for_update(of=("self",))
            .select_related("job")
            .get(pk=chunk_id)
        )
        if chunk.status == ValuationChunk.Status.DONE or chunk.job.status in ValuationJob.FINISHED:
            return None
        chunk.status = ValuationChunk.Status.RUNNING
        chunk.started_at = timezone.now()
        chunk.save(update_fields=["status", "started_at"])
        ValuationJob.objects.filter(pk=chunk.job_id, status=ValuationJob.Status.PENDING).update(
            status=ValuationJob.Status.RUNNING, started_at=timezone.now()
        )
        return chunk


def chunk_run(*, chunk_id: int) -> None:
    """Compute one chunk and fold it into its job. Safe to call again for the same chunk."""
    chunk = _claim(chunk_id)
    if chunk is None:
        job = ValuationJob.objects.get(chunks__pk=chunk_id)
        if job.status in ValuationJob.FINISHED and job.notified_at is None:
            _announce(job)
        return
    job = chunk.job
    started = time.monotonic()
    try:
        key = json.dumps([job.spec.to_dict(), job.method, job.seed], sort_keys=True)
        data = job_data(job.spec)
        cache = _ChunkCache(_job_cache(job.pk, key))
        estimator = build_estimator(job.method, job.spec, job.seed, cache=cache)
        partial = estimator.fit_chunk(
            data.train, data.valid, baseline=data.baseline, start=chunk.start, stop=chunk.stop
        )
    except Exception as exc:
        if isinstance(exc, TRANSIENT):
            raise
        logger.exception("valuation job %s failed in chunk %s", job.pk, chunk.index)
        _fail(job, chunk, f"{type(exc).__name__}: {exc}")
        return
    logger.info(
        "job %s chunk %s (%s..%s) took %.2f s, %d evaluations; worker peak RSS %.0f MiB",
        job.pk,
        chunk.index,
        chunk.start,
        chunk.stop,
        time.monotonic() - started,
        cache.evaluations,
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    record, evaluations = partial.to_dict(), cache.evaluations
    del partial  # a row job's chunk holds arrays of every row; its record is enough now
    finished = _store(chunk, record, evaluations)
    if finished is not None:
        logger.info(
            "job %s %s; worker peak RSS %.0f MiB",
            finished.pk,
            finished.status,
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        )
        _announce(finished)


@lru_cache(maxsize=4)
def _job_cache(job_id: int, key: str) -> InMemoryCache:
    """Coalition utilities this worker process has computed for a job (chunks of one job
    share evaluations, e.g. the empty and full coalitions every permutation starts and ends
    with). ``key`` (spec, method, seed) guards against a reused id."""
    return InMemoryCache()


class _ChunkCache:
    """The job's cache as one chunk uses it, counting what the chunk adds to it: the
    utility evaluations (model fits) it really made. The estimator's own count is of the
    coalitions it needed, some of which an earlier chunk on this process had fitted."""

    def __init__(self, shared: InMemoryCache) -> None:
        self.shared = shared
        self.evaluations = 0

    def get(self, key: int) -> float | None:
        return self.shared.get(key)

    def set(self, key: int, value: float) -> None:
        self.evaluations += 1
        self.shared.set(key, value)


def chunk_abandon(chunk_id: int, reason: str) -> None:
    """Fail a chunk that could not be run (its unit of work was given up) and so its job,
    which announces the end: the task that waits for it is freed with the reason."""
    chunk = ValuationChunk.objects.select_related("job").get(pk=chunk_id)
    _fail(chunk.job, chunk, f"chunk {chunk.index} {reason}")


def _fail(job: ValuationJob, chunk: ValuationChunk, message: str) -> None:
    with transaction.atomic():
        ValuationChunk.objects.filter(pk=chunk.pk).update(
            status=ValuationChunk.Status.FAILED, error=message, finished_at=timezone.now()
        )
        job = ValuationJob.objects.select_for_update().get(pk=job.pk)
        if job.status in ValuationJob.FINISHED:
            return
        job.status = ValuationJob.Status.FAILED
        job.error = message
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
    _announce(job)


def _store(chunk: ValuationChunk, partial: dict, n_evaluations: int) -> ValuationJob | None:
    """Save a chunk's partial and update the job; returns the job if this finished it."""
    with transaction.atomic():
        job = ValuationJob.objects.select_for_update().get(pk=chunk.job_id)
        fresh = ValuationChunk.objects.select_for_update().get(pk=chunk.pk)
        if fresh.status == ValuationChunk.Status.DONE or job.status in ValuationJob.FINISHED:
            return None  # a duplicate delivery got here first, or the job was cancelled
        fresh.status = ValuationChunk.Status.DONE
        fresh.partial = partial
        fresh.n_utility_evaluations = n_evaluations
        fresh.finished_at = timezone.now()
        fresh.save(update_fields=["status", "partial", "n_utility_evaluations", "finished_at"])
        done = job.chunks.filter(status=ValuationChunk.Status.DONE)
        totals = done.aggregate(
            units=Sum(F("stop") - F("start")), evaluations=Sum("n_utility_evaluations")
        )
        job.units_done = totals["units"]
        job.n_utility_evaluations = totals["evaluations"]
        all_done = not job.chunks.exclude(status=ValuationChunk.Status.DONE).exists()
        estimator = build_estimator(job.method, job.spec, job.seed)
        if job.method in PLANNED_METHODS:
            job.progress = job.units_done / job.units_planned
            complete = all_done
        else:
            merged = _merged(job)
            state = RunState(
                result=merged, n_samples=job.units_done, n_evaluations=job.n_utility_evaluations
            )
            rule = stopping_rule(job.spec)
            job.progress = min(rule.completion(state), 0.999)
            complete = all_done and rule.done(state)
            if all_done and not complete:
                _plan_round(job)
                job_enqueue(job)
        elapsed = (timezone.now() - job.started_at).total_seconds() if job.started_at else 0.0
        job.eta_seconds = elapsed * (1 - job.progress) / job.progress if job.progress else None
        fields = ["units_done", "n_utility_evaluations", "progress", "eta_seconds"]
        if complete:
            merged = _merged(job) if job.method in PLANNED_METHODS else merged
            result = estimator.reduce(merged)
            job.result = result.to_dict()
            if job.method == "exact":
                job.utilities = merged.to_dict()
            job.status = ValuationJob.Status.SUCCEEDED
            job.progress = 1.0
            job.eta_seconds = 0.0
            job.finished_at = timezone.now()
            fields += ["result", "utilities", "status", "finished_at"]
        job.save(update_fields=fields)
    return job if complete else None


def _merged(job: ValuationJob):
    """The job's done partials merged in chunk order (so the sum, and its last bits, do not
    depend on which chunk finished first), read one at a time: a row-level partial of a
    million rows is tens of MB, and holding them all would grow with the job."""
    partials = (
        job.chunks.filter(status=ValuationChunk.Status.DONE)
        .order_by("index")
        .values_list("partial", flat=True)
    )
    merged = None
    for data in partials.iterator(chunk_size=1):
        partial = partial_from_dict(data)
        merged = partial if merged is None else merged + partial
    return merged
