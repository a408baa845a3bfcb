"""Celery tasks of the marketplace: thin, they take ids and call a service, and a re-run on
finished work is a no-op (so ``acks_late`` redelivery is safe)."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from marketplace.services.insights import insight_run
from marketplace.services.screening import dataset_screen

#: Failures worth retrying: the database or broker was briefly unreachable.
TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)
#: Every task's retry policy: transient failures only, with backoff.
RETRY = {"autoretry_for": TRANSIENT, "retry_backoff": 2, "retry_backoff_max": 60, "max_retries": 5}


@shared_task(name="marketplace.compute_insights", **RETRY)
def compute_insights(task_id: int) -> None:
    insight_run(task_id)


@shared_task(name="marketplace.screen_dataset", **RETRY)
def screen_dataset(dataset_id: int) -> None:
    dataset_screen(dataset_id)
