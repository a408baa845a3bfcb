"""The sweep task, the worker_ready hook, and :func:`durable_task`, which every task over a
unit of work is declared with."""

from __future__ import annotations

import functools
from collections.abc import Callable

from celery import shared_task
from celery.signals import worker_ready

from work.services import TRANSIENT, execute, sweep


def durable_task(name: str, *, give_up: Callable[[int, str], None]):
    """Declare the Celery task ``name`` over one row id, run as a unit of work
    (:func:`work.services.execute`): leased while it runs, retried with backoff on a
    transient failure, and handed to ``give_up(id, reason)`` once it has failed too often.
    The decorated function must be a no-op on finished work."""

    def decorate(work: Callable[[int], object]):
        @functools.wraps(work)
        def run(key: int) -> None:
            execute(name, key, work, give_up)

        return shared_task(
            name=name,
            ignore_result=True,
            autoretry_for=TRANSIENT,
            retry_backoff=2,
            retry_backoff_max=60,
            max_retries=5,
        )(run)

    return decorate


@shared_task(name="work.sweep", ignore_result=True)
def sweep_task() -> int:
    return sweep()


@worker_ready.connect
def sweep_when_a_worker_starts(**kwargs) -> None:
    """A worker that starts (a container restarted after a crash) picks up lost work at once."""
    sweep()
