"""Celery tasks of the valuation app: thin, they take ids and call a service."""

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import InterfaceError, OperationalError

from valuation.services import chunk_run, chunks_requeue_stale

#: A pending chunk older than this when a worker starts is re-sent (its message may have
#: been lost with a broker that keeps nothing on disk).
PENDING_STALE_SECONDS = 10 * 60


@shared_task(
    name="valuation.run_chunk",
    autoretry_for=(OperationalError, InterfaceError, ConnectionError, TimeoutError),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=5,
)
def run_chunk(chunk_id: int) -> None:
    chunk_run(chunk_id=chunk_id)


@worker_ready.connect
def requeue_stale_chunks(**kwargs) -> None:
    """A worker that starts (e.g. a container restarted after a crash) picks up the work of
    workers that died: chunks running past the hard time limit, or pending for long."""
    chunks_requeue_stale(
        running_after=settings.CELERY_TASK_TIME_LIMIT, pending_after=PENDING_STALE_SECONDS
    )
