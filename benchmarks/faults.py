"""Recovery from the faults an operator meets, at the default work settings: how long after
the fault ends the interrupted task is quoted with its insights, against a clean task on
the same stack, and whether anything was lost, counted twice or answered 5xx.

Run: ``python -m benchmarks faults [--down-seconds 20]``. It starts its own stack (a scratch
PostgreSQL database on 127.0.0.1:5432, gunicorn, one worker of two processes with beat, and
a private ``redis-server`` on a free loopback port without persistence) and builds a small
market: 3 providers of 90 rows, tasks of logistic regression whose payout basis is cut in
16 chunks (tests/support/faults.py). The faults, one task each:

- ``kill -9`` of the worker's main process mid-job, a new worker started at once;
- Redis flushed mid-job (``FLUSHALL``: every queued and unacknowledged message gone);
- Redis killed mid-job and started again 5 s later (empty: nothing was kept on disk);
- Redis down while an upload and a task are submitted (``--down-seconds``), then started.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import django
import pytest
import requests

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django.setup()  # the test tables' module imports models (this process only talks HTTP)

from benchmarks import DOCS, ROOT, publish, table, write_section  # noqa: E402
from tests.support.api import clean_values, job_state, submit_task  # noqa: E402
from tests.support.builders import table_csv  # noqa: E402
from tests.support.faults import (  # noqa: E402
    build_market,
    fault_stack,
    wait_mid_job,
    wait_until_finished,
)

REPORT = DOCS / "faults.md"
TITLE = "Recovery from faults"
SUMMARY = ROOT / "docs" / "benchmarks.md"
#: The bound the issue sets, after the fault ends.
BOUND_SECONDS = 180


def _outcome(faults, consumer, task_id: int, started: float) -> dict:
    """Wait for the task; what it took since ``started`` and whether the answer is clean."""
    task, _ = wait_until_finished(consumer, task_id, timeout=900)
    seconds = time.monotonic() - started
    state = job_state(faults.stack, task_id)
    values = state["values"]
    return {
        "seconds": seconds,
        "status": task["status"],
        "insight": task.get("insight", {}).get("status", "-"),
        "identical": values is not None
        and max(abs(a - b) for a, b in zip(values, clean_values(faults.stack, task_id))) <= 1e-12,
        "left": len(state["active_units"]),
    }


def _fault(faults, consumer, name: str, down_seconds: float) -> tuple[dict, dict]:
    """Run one fault on a new task; returns the outcome and what requests saw."""
    seen: dict = {"5xx": 0}
    if name == "broker down":
        provider = faults.anon.register(f"down{int(time.time())}", "provider")
        faults.redis.kill()
        t = time.monotonic()
        upload = provider.session.post(
            f"{faults.stack.url}/api/datasets/",
            files={"file": ("late.csv", table_csv(90, seed=5))},
            data={"title": "sent late", "license": "CC-BY-4.0", "label_column": "y"},
            timeout=120,
        )
        seen["upload"] = (upload.status_code, time.monotonic() - t)
        t = time.monotonic()
        created = consumer.session.post(
            f"{faults.stack.url}/api/tasks/",
            files={"validation_file": ("valid.csv", table_csv(200, seed=9))},
            data={
                "label_column": "y",
                "metric": "accuracy",
                "model": "logistic_regression",
                "budget_cents": 20_000,
                "value_per_point_cents": 500,
            },
            timeout=120,
        )
        seen["task"] = (created.status_code, time.monotonic() - t)
        seen["5xx"] = sum(code >= 500 for code, _ in (seen["upload"], seen["task"]))
        ready = requests.get(f"{faults.stack.url}/readyz", timeout=30)
        seen["readyz"] = (ready.status_code, ready.json().get("work", {}).get("unsent"))
        time.sleep(max(0.0, down_seconds - (time.monotonic() - t)))
        faults.redis.start()
        started = time.monotonic()
        outcome = _outcome(faults, consumer, created.json()["id"], started)
        dataset_id = upload.json()["id"]
        while provider("GET", f"/datasets/{dataset_id}/", 200)["status"] == "screening":
            time.sleep(0.5)
        seen["screened"] = time.monotonic() - started
        return outcome, seen
    task_id = submit_task(consumer)["id"]
    wait_mid_job(faults, task_id)
    faults.interrupt(name, down_seconds=5)
    return _outcome(faults, consumer, task_id, time.monotonic()), seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--down-seconds", type=float, default=20.0)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    rows, notes = [], []
    with (
        tempfile.TemporaryDirectory() as tmp,
        pytest.MonkeyPatch.context() as monkeypatch,
        fault_stack(Path(tmp), monkeypatch) as faults,
    ):
        consumer = build_market(faults, "b")
        clean = _outcome(faults, consumer, submit_task(consumer)["id"], time.monotonic())
        rows.append(_row("none (a clean task)", clean, {"5xx": 0}, clean["seconds"]))
        for name in ("worker killed", "redis flushed", "redis restarted", "broker down"):
            outcome, seen = _fault(faults, consumer, name, args.down_seconds)
            rows.append(_row(name, outcome, seen, clean["seconds"]))
            if name == "broker down":
                notes.append(
                    f"While Redis was down: the upload answered {seen['upload'][0]} in "
                    f"{seen['upload'][1]:.2f} s and the task {seen['task'][0]} in "
                    f"{seen['task'][1]:.2f} s (the issue measured 500 after 19.4 s); "
                    f"`/readyz` answered {seen['readyz'][0]} with {seen['readyz'][1]} unit(s) "
                    f"waiting for the broker. Once it was back, the upload was screened after "
                    f"{seen['screened']:.1f} s."
                )
    body = (
        "Defaults: 60 s leases, a sweep every 30 s, a queued unit lost after 60 s with the "
        f"queue empty. Bound asked: finished within {BOUND_SECONDS} s of the fault's end.\n\n"
        + table(
            [
                "fault",
                "finished after the fault ended (s)",
                "a clean task (s)",
                "task",
                "insights",
                "values = clean run",
                "units left",
                "5xx",
            ],
            rows,
        )
        + ("\n\n" + "\n".join(notes) if notes else "")
    )
    publish(parser, args, body, report=REPORT, title=TITLE, key="faults")
    if not args.no_write:
        faulted = rows[1:]
        worst = max(float(r[1]) for r in faulted)
        identical = sum(r[5] == "yes" for r in faulted)
        left = sum(int(r[6]) for r in faulted)
        errors = sum(int(r[7]) for r in faulted)
        write_section(
            SUMMARY,
            "Benchmarks",
            "faults-summary",
            f"Recovery (`python -m benchmarks faults`, docs/benchmarks/faults.md): after a "
            f"killed worker, a flushed Redis, a restarted Redis and submissions while Redis "
            f"was down, the slowest task was finished {worst:.0f} s after its fault ended "
            f"(bound {BOUND_SECONDS} s); {identical} of {len(faulted)} gave the clean run's "
            f"values; {left} unit(s) of work were left behind; {errors} request(s) answered "
            "5xx.",
        )


def _row(name: str, outcome: dict, seen: dict, clean_seconds: float) -> list[str]:
    return [
        name,
        f"{outcome['seconds']:.1f}",
        f"{clean_seconds:.1f}",
        outcome["status"],
        outcome["insight"],
        "yes" if outcome["identical"] else "NO",
        str(outcome["left"]),
        str(seen["5xx"]),
    ]


if __name__ == "__main__":
    main()
