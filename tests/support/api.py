"""A client of a live stack (tests/support/stack.py): its API as a user calls it, and the
state of its jobs read straight from its database."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import requests

from tests.support.builders import table_csv


class Api:
    def __init__(self, base: str):
        self.base = base
        self.session = requests.Session()

    def __call__(self, method: str, path: str, expect: int, **kwargs):
        response = self.session.request(method, f"{self.base}/api{path}", timeout=60, **kwargs)
        assert response.status_code == expect, (response.status_code, response.text[:500])
        return response.json() if "json" in response.headers.get("content-type", "") else response

    def register(self, username: str, *roles: str) -> Api:
        body = self(
            "POST",
            "/auth/register/",
            201,
            json={"username": username, "password": "a-long-e2e-password", "roles": list(roles)},
        )
        user = Api(self.base)
        user.session.headers["Authorization"] = f"Token {body['token']}"
        return user


SCREENING_TIMEOUT = 120


def publish(api: Api, data: bytes, title: str, reserve: int = 0) -> int:
    """Upload, then wait for the worker to screen it onto the market."""
    pk = api(
        "POST",
        "/datasets/",
        201,
        files={"file": ("data.csv", data)},
        data={
            "title": title,
            "license": "CC-BY-4.0",
            "label_column": "y",
            "reserve_price_cents": reserve,
        },
    )["id"]
    deadline = time.monotonic() + SCREENING_TIMEOUT
    while (dataset := api("GET", f"/datasets/{pk}/", 200))["status"] == "screening":
        assert time.monotonic() < deadline, f"dataset {pk} still screening"
        time.sleep(0.3)
    assert dataset["status"] == "published", dataset["hold_reason"]
    return pk


def submit_task(consumer: Api, model: str = "logistic_regression") -> dict:
    return consumer(
        "POST",
        "/tasks/",
        201,
        files={"validation_file": ("valid.csv", table_csv(200, seed=9))},
        data={
            "label_column": "y",
            "metric": "accuracy",
            "model": model,
            "budget_cents": 20_000,
            "value_per_point_cents": 500,
        },
    )


def wait_for(consumer: Api, task_id: int, statuses: set[str], timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        task = consumer("GET", f"/tasks/{task_id}/", 200)
        seen.append((task["status"], task["progress"] and task["progress"]["fraction"]))
        if task["status"] in statuses:
            return task
        time.sleep(0.5)
    raise AssertionError(f"task {task_id} stayed {seen[-1]} (history {seen[-10:]})")


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def job_state(stack, task_id: int) -> dict:
    """The task's payout-basis job and its chunks (with how often each was claimed, from its
    unit of work), and every unit of work still queued or running, read straight from the
    stack's database (fast enough to act on before the chunk running now finishes)."""
    import psycopg

    url = "postgresql://" + stack.env["DATABASE_URL"].split("://", 1)[1]
    with psycopg.connect(url) as conn:
        job_id, status, result = conn.execute(
            "SELECT j.id, j.status, j.result FROM marketplace_task t "
            "JOIN valuation_valuationjob j ON j.id = t.valuation_job_id WHERE t.id = %s",
            (task_id,),
        ).fetchone()
        chunks = conn.execute(
            "SELECT c.index, c.status, COALESCE(u.attempts, 0) FROM valuation_valuationchunk c "
            "LEFT JOIN work_unit u ON u.task = 'valuation.run_chunk' AND u.key = c.id "
            "WHERE c.job_id = %s ORDER BY c.index",
            (job_id,),
        ).fetchall()
        active = conn.execute(
            "SELECT task, key, state FROM work_unit WHERE state IN ('queued', 'running')"
        ).fetchall()
    return {
        "status": status,
        "values": (result or {}).get("values"),
        "chunks": [{"index": i, "status": st, "attempts": a} for i, st, a in chunks],
        "active_units": active,
    }


def clean_values(stack, task_id: int) -> Future[list[float]]:
    """The values of the task's payout basis computed in one process, with no fault: started
    now, in the background (the job's spec is stored when the task is submitted), so that it
    runs beside the worker rather than after it. ``.result()`` once the job is done."""
    code = (
        "import json; from marketplace.models import Task; from valuation.data import "
        "load_job_data; from valuation.methods import build_estimator; "
        f"j = Task.objects.get(pk={task_id}).valuation_job; d = load_job_data(j.spec); "
        "e = build_estimator(j.method, j.spec, j.seed).fit(d.train, d.valid, baseline=d.baseline); "
        "print(json.dumps(list(e.result_.values)))"
    )
    values: Future[list[float]] = Future()

    def run() -> None:
        try:
            output = stack.manage("shell", "-c", code)
            values.set_result(json.loads(output.strip().splitlines()[-1]))
        except Exception as exc:  # handed to whoever asks for the result
            values.set_exception(exc)

    threading.Thread(target=run, daemon=True).start()
    return values
