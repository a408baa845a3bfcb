"""Enqueue work with the transaction that creates it, run it under a lease, sweep what is lost.

The rules (``settings.DATAFAIR_WORK``):

- :func:`enqueue` writes the units in the caller's transaction and sends their messages once
  it commits; a broker that is down then costs nothing but time (the units stay unsent).
- :func:`execute` runs a unit in the worker: it claims the unit (skipping one that is done,
  or held by a live lease), keeps the lease ahead from a heartbeat thread while the work
  runs, and marks the unit done when the work returns. A unit claimed more than
  ``max_attempts`` times is given up: the caller's ``give_up`` puts its object in a visible
  failed state.
- :func:`sweep` (Celery beat, every ``sweep_seconds``, and when a worker starts) sends again
  the units that are unsent, running on an expired lease (their worker died), or queued
  while the broker's queue is empty for longer than ``lost_after_seconds`` (their message
  was lost with the broker's data). A duplicate message is harmless: the claim makes it a
  no-op. Checking the queue first means a busy queue is never flooded with copies.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from config.celery import app
from work.models import Unit

logger = logging.getLogger(__name__)

#: Failures worth retrying at once: the database or a network peer was briefly unreachable.
TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)
#: Publishing gives up at once when the broker is unreachable (the sweep tries again later),
#: rather than kombu's default retries, which would hold a web request for seconds.
FAST_PUBLISH = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
#: A unit not yet sent this long after it was queued is sent by the sweep: its request's own
#: send after commit failed, or the process died before it could.
UNSENT_GRACE = timedelta(seconds=10)
#: What queuing a unit again resets (to the model's defaults: new work).
FRESH = ("state", "attempts", "holder", "queued_at", "sent_at", "lease_until", "error")
#: How long a done unit is kept.
DONE_KEPT = timedelta(days=7)
#: Most units one sweep sends (the rest wait for the next sweep).
SWEEP_LIMIT = 2000


def _option(name: str) -> float:
    return settings.DATAFAIR_WORK[name]


def enqueue(task: str, keys: Iterable[int]) -> None:
    """Queue ``task`` for each key in the current transaction; send once it commits.

    A unit queued again (say, a rescheduled insight) starts afresh: no attempts, unsent.
    """
    keys = [int(k) for k in keys]
    if not keys:
        return
    now = timezone.now()
    Unit.objects.bulk_create(
        [Unit(task=task, key=k, queued_at=now) for k in keys],
        update_conflicts=True,
        unique_fields=["task", "key"],
        update_fields=list(FRESH),
    )
    transaction.on_commit(lambda: publish([(task, k) for k in keys]))


def publish(units: list[tuple[str, int]]) -> int:
    """Send one message per ``(task, key)``; record which were sent. Never raises: a broker
    that cannot be reached leaves the rest unsent for the sweep. Returns how many were sent."""
    sent: list[tuple[str, int]] = []
    if units:
        options = {**app.conf.broker_transport_options, **FAST_PUBLISH}
        try:
            with app.connection_for_write(transport_options=options) as conn:
                for task, key in units:
                    app.send_task(
                        task, args=[key], connection=conn, retry=False, ignore_result=True
                    )
                    sent.append((task, key))
        except Exception as exc:  # any transport error: the outbox keeps the rest
            logger.warning(
                "broker unreachable (%s: %s); %d unit(s) wait for the sweep",
                type(exc).__name__,
                exc,
                len(units) - len(sent),
            )
    now = timezone.now()
    by_task: dict[str, list[int]] = {}
    for task, key in sent:
        by_task.setdefault(task, []).append(key)
    for task, keys in by_task.items():
        Unit.objects.filter(task=task, key__in=keys, state=Unit.State.QUEUED).update(sent_at=now)
    return len(sent)


# --- running a unit ---------------------------------------------------------------------------


def holder() -> str:
    """Who takes a lease: this host and process, read when the lease is taken (a pool
    process is forked after this module is imported), so a worker on the same host can tell
    the holder died."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _holder_alive(who: str) -> bool:
    """Whether the process holding a lease may still be working: a process on this host that
    no longer exists is not (a killed pool process is taken over at once); elsewhere, only
    its lease can tell."""
    host, _, pid = who.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _claim(task: str, key: int) -> Unit | None:
    """Take the unit for this process, or None if it is finished or held by a live lease."""
    now = timezone.now()
    with transaction.atomic():
        unit, _ = Unit.objects.select_for_update().get_or_create(
            task=task, key=key, defaults={"queued_at": now, "sent_at": now}
        )
        if unit.state in (Unit.State.DONE, Unit.State.FAILED):
            return None
        held = unit.state == Unit.State.RUNNING and unit.lease_until and unit.lease_until > now
        if held and _holder_alive(unit.holder):
            return None
        unit.state = Unit.State.RUNNING
        unit.attempts += 1
        unit.holder = holder()
        unit.lease_until = now + timedelta(seconds=_option("lease_seconds"))
        unit.save(update_fields=["state", "attempts", "holder", "lease_until", "updated_at"])
    return unit


def _mine(unit: Unit):
    """The unit's row while this claim still holds it (no one took it over)."""
    return Unit.objects.filter(
        pk=unit.pk, state=Unit.State.RUNNING, holder=unit.holder, attempts=unit.attempts
    )


class _Heartbeat(threading.Thread):
    """Keeps a claimed unit's lease ahead until stopped, on its own database connection."""

    def __init__(self, unit: Unit) -> None:
        super().__init__(name=f"lease-{unit.task}-{unit.key}", daemon=True)
        self.unit = unit
        self.stopped = threading.Event()

    def run(self) -> None:
        lease = _option("lease_seconds")
        try:
            while not self.stopped.wait(lease / 4):
                try:
                    _mine(self.unit).update(lease_until=timezone.now() + timedelta(seconds=lease))
                except DatabaseError as exc:  # try again at the next beat
                    logger.warning("heartbeat of %s failed: %s", self.unit, exc)
        finally:
            connection.close()


def execute(
    task: str, key: int, work: Callable[[int], object], give_up: Callable[[int, str], None]
) -> None:
    """Run ``work(key)`` as the unit ``(task, key)``: see the module docstring."""
    unit = _claim(task, key)
    if unit is None:
        return
    limit = int(_option("max_attempts"))
    if unit.attempts > limit:
        reason = f"gave up after {limit} attempts ({unit.error or 'its worker was lost each time'})"
        logger.error("%s: %s", unit, reason)
        try:
            give_up(key, reason)
        except Exception:  # its object is gone, say: the unit ends failed all the same
            logger.exception("%s: giving up failed too", unit)
        _mine(unit).update(state=Unit.State.FAILED, error=reason, lease_until=None)
        return
    heartbeat = _Heartbeat(unit)
    heartbeat.start()
    try:
        work(key)
    except BaseException as exc:
        # Celery retries a transient failure; anything else the sweep sends again, up to the
        # limit. Either way the unit is queued and no longer leased.
        _mine(unit).update(
            state=Unit.State.QUEUED,
            queued_at=timezone.now(),
            sent_at=timezone.now(),
            lease_until=None,
            error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        raise
    finally:
        heartbeat.stopped.set()
        heartbeat.join()
    _mine(unit).update(state=Unit.State.DONE, lease_until=None)


# --- the sweep --------------------------------------------------------------------------------


def queue_length() -> int | None:
    """Messages waiting in this deployment's queue, or None if the broker cannot be asked."""
    options = {**app.conf.broker_transport_options, **FAST_PUBLISH}
    try:
        with app.connection_for_read(transport_options=options) as conn:
            queue = app.conf.task_default_queue
            return conn.default_channel.queue_declare(queue=queue, passive=False).message_count
    except Exception:  # unreachable: nothing can be sent either
        return None


def sweep() -> int:
    """Send again what is unsent, held by a dead worker, or lost by the broker; returns how
    many units were sent."""
    waiting = queue_length()
    if waiting is None:
        logger.warning("sweep: the broker is unreachable; %d unit(s) wait", backlog()["unsent"])
        return 0
    now = timezone.now()
    lost = Q(state=Unit.State.RUNNING, lease_until__lt=now) | Q(
        state=Unit.State.QUEUED, sent_at__isnull=True, queued_at__lt=now - UNSENT_GRACE
    )
    if waiting == 0:
        lost_after = timedelta(seconds=_option("lost_after_seconds"))
        lost |= Q(state=Unit.State.QUEUED, sent_at__lt=now - lost_after)
    with transaction.atomic():
        rows = Unit.objects.select_for_update(skip_locked=True).filter(lost).order_by("id")
        units = list(rows.values_list("pk", "task", "key", "state")[:SWEEP_LIMIT])
        # A running unit whose lease ran out is queued again (the claim would take it anyway;
        # this way the next sweep does not send it a second time).
        expired = [pk for pk, _, _, state in units if state == Unit.State.RUNNING]
        Unit.objects.filter(pk__in=expired).update(
            state=Unit.State.QUEUED, queued_at=now, sent_at=None, lease_until=None
        )
    sent = publish([(task, key) for _, task, key, _ in units])
    # Done units are kept a while to read, then dropped (a late copy of a message finds no
    # row and runs its work, which is a no-op on finished work). Failed ones stay.
    Unit.objects.filter(state=Unit.State.DONE, updated_at__lt=now - DONE_KEPT).delete()
    if units:
        logger.warning(
            "sweep: sent %d of %d lost or unsent unit(s) (%d held by a dead worker)",
            sent,
            len(units),
            len(expired),
        )
    return sent


def any_unsent(task: str, keys) -> bool:
    """Whether any of these units (``keys``: ids, or a query of them) waits for the broker."""
    return Unit.objects.filter(
        task=task, key__in=keys, state=Unit.State.QUEUED, sent_at__isnull=True
    ).exists()


def backlog() -> dict:
    """Units by state, how many wait to be sent, and for how long the oldest has."""
    now = timezone.now()
    active = Unit.objects.filter(state__in=[Unit.State.QUEUED, Unit.State.RUNNING])
    counts = dict(active.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    unsent = active.filter(state=Unit.State.QUEUED, sent_at__isnull=True).aggregate(
        n=Count("id"), oldest=Min("queued_at")
    )
    return {
        "queued": counts.get(Unit.State.QUEUED, 0),
        "running": counts.get(Unit.State.RUNNING, 0),
        "unsent": unsent["n"],
        "oldest_unsent_seconds": (
            round((now - unsent["oldest"]).total_seconds(), 1) if unsent["oldest"] else None
        ),
    }
