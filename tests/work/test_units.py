"""Units of background work on the real broker (Redis in CI, else the filesystem transport):
the outbox, leases, the sweep's three rules and giving up."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from config.celery import app
from tests.support.broker import broker_down, private_queue
from work.models import Unit
from work.services import backlog, enqueue, execute, publish, queue_length, sweep

pytestmark = pytest.mark.django_db

TASK = "tests.work.noop"


@pytest.fixture
def queue():
    """A queue of this test's own on the configured broker, emptied afterwards."""
    with private_queue() as name:
        assert queue_length() == 0
        yield name


def _unit(key: int) -> Unit:
    return Unit.objects.get(task=TASK, key=key)


def _age(key: int, **fields_seconds_ago) -> None:
    """Set timestamps of a unit to that many seconds ago."""
    now = timezone.now()
    Unit.objects.filter(task=TASK, key=key).update(
        **{name: now - timedelta(seconds=s) for name, s in fields_seconds_ago.items()}
    )


def test_queued_work_is_sent_when_its_transaction_commits(
    queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        enqueue(TASK, [1, 2])
        assert _unit(1).sent_at is None  # not before the commit
    assert len(callbacks) == 1
    assert queue_length() == 2
    assert all(u.sent_at is not None and u.state == "queued" for u in Unit.objects.all())


def test_a_broker_that_is_down_loses_nothing_and_the_sweep_sends_it_later(
    queue, django_capture_on_commit_callbacks
):
    with broker_down():
        with django_capture_on_commit_callbacks(execute=True):
            enqueue(TASK, [7])  # the commit's send fails quietly
        assert _unit(7).sent_at is None and _unit(7).state == "queued"
        assert queue_length() is None
        _age(7, queued_at=60)
        assert sweep() == 0  # still down: nothing sent, nothing lost
        assert backlog()["unsent"] == 1 and backlog()["oldest_unsent_seconds"] >= 60
    # The broker is back.
    assert sweep() == 1
    assert queue_length() == 1 and _unit(7).sent_at is not None
    assert backlog()["unsent"] == 0


def test_a_unit_runs_once_and_a_repeated_message_is_a_no_op(queue):
    calls = []
    enqueue(TASK, [3])
    execute(TASK, 3, calls.append, give_up=pytest.fail)
    execute(TASK, 3, calls.append, give_up=pytest.fail)
    assert calls == [3]
    unit = _unit(3)
    assert (unit.state, unit.attempts, unit.lease_until) == ("done", 1, None)


def test_a_live_lease_keeps_other_workers_off_and_an_expired_one_is_swept(queue):
    calls = []
    enqueue(TASK, [4])
    lease = timezone.now() + timedelta(minutes=5)
    Unit.objects.filter(key=4).update(
        state="running", attempts=1, holder="another-host:123", lease_until=lease, sent_at=lease
    )
    execute(TASK, 4, calls.append, give_up=pytest.fail)
    assert calls == [] and sweep() == 0
    _age(4, lease_until=1)  # its worker stopped renewing: it died
    assert sweep() == 1
    assert _unit(4).state == "queued" and queue_length() == 1
    assert sweep() == 0  # sent once, not at every sweep
    execute(TASK, 4, calls.append, give_up=pytest.fail)
    assert calls == [4] and _unit(4).attempts == 2


def test_a_dead_process_on_this_host_is_taken_over_at_once(queue):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    enqueue(TASK, [5])
    Unit.objects.filter(key=5).update(
        state="running",
        attempts=1,
        holder=f"{socket.gethostname()}:{dead.pid}",
        lease_until=timezone.now() + timedelta(minutes=5),
    )
    calls = []
    execute(TASK, 5, calls.append, give_up=pytest.fail)
    assert calls == [5] and _unit(5).holder == f"{socket.gethostname()}:{os.getpid()}"


def test_a_message_the_broker_lost_is_sent_again_only_once_the_queue_is_empty(
    queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        enqueue(TASK, [6])
    _age(6, sent_at=3600)
    assert queue_length() == 1
    assert sweep() == 0  # its message may still be in the queue: no copy
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)  # the broker lost its data
    assert sweep() == 1 and queue_length() == 1
    assert sweep() == 0  # just sent: not lost yet


def test_failing_work_is_queued_again_and_given_up_after_the_limit(queue, settings):
    settings.DATAFAIR_WORK = {**settings.DATAFAIR_WORK, "max_attempts": 3}
    given_up = []

    def broken(key):
        raise RuntimeError("disk on fire")

    enqueue(TASK, [8])
    for _ in range(3):
        with pytest.raises(RuntimeError):
            execute(TASK, 8, broken, give_up=lambda *a: given_up.append(a))
        unit = _unit(8)
        assert unit.state == "queued" and unit.lease_until is None
        assert unit.error == "RuntimeError: disk on fire"
    execute(TASK, 8, broken, give_up=lambda *a: given_up.append(a))
    assert given_up == [(8, "gave up after 3 attempts (RuntimeError: disk on fire)")]
    assert _unit(8).state == "failed"
    execute(TASK, 8, broken, give_up=lambda *a: given_up.append(a))
    assert len(given_up) == 1  # failed for good


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_keeps_the_lease_ahead_while_the_work_runs(queue, settings):
    settings.DATAFAIR_WORK = {**settings.DATAFAIR_WORK, "lease_seconds": 0.4}
    enqueue(TASK, [9])
    seen = []

    def slow(key):
        for _ in range(6):
            time.sleep(0.2)
            seen.append((timezone.now(), Unit.objects.get(task=TASK, key=key).lease_until))

    def worker():
        try:
            execute(TASK, 9, slow, pytest.fail)
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=30)
    assert _unit(9).state == "done" and len(seen) == 6
    # Work of 1.2 s under a 0.4 s lease: renewed, so it never lapsed while the work ran.
    assert all(lease > now for now, lease in seen), seen


def test_publish_reports_what_it_sent(queue):
    Unit.objects.create(task=TASK, key=10, queued_at=timezone.now())
    with broker_down():
        assert publish([(TASK, 10)]) == 0
    assert _unit(10).sent_at is None
    assert publish([(TASK, 10)]) == 1 and _unit(10).sent_at is not None


def test_a_give_up_that_fails_still_ends_the_unit(queue, settings):
    settings.DATAFAIR_WORK = {**settings.DATAFAIR_WORK, "max_attempts": 1}
    enqueue(TASK, [11])
    Unit.objects.filter(key=11).update(attempts=1)

    def gone(key, reason):
        raise LookupError("its row was deleted")

    execute(TASK, 11, pytest.fail, give_up=gone)
    assert _unit(11).state == "failed"


def test_the_sweep_drops_done_units_after_a_week_and_keeps_failed_ones(queue):
    enqueue(TASK, [12, 13, 14])
    Unit.objects.filter(key=12).update(state="done")
    Unit.objects.filter(key=13).update(state="failed")
    Unit.objects.filter(key__in=[12, 13]).update(updated_at=timezone.now() - timedelta(days=8))
    Unit.objects.filter(key=14).update(state="done")
    sweep()
    assert sorted(Unit.objects.values_list("key", flat=True)) == [13, 14]
