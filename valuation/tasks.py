"""Celery tasks of the valuation app: thin, they take ids and call a service."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from valuation.services import chunk_run


@shared_task(
    name="valuation.run_chunk",
    autoretry_for=(OperationalError, InterfaceError, ConnectionError, TimeoutError),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=5,
)
def run_chunk(chunk_id: int) -> None:
    chunk_run(chunk_id=chunk_id)
