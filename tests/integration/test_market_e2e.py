"""The market end to end through the real processes: the API served by gunicorn, the
valuation computed by a separate ``celery worker`` on Redis, PostgreSQL underneath — and a
worker killed in the middle of a job still gives the clean run's answer."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import requests

from tests.marketplace.conftest import table_csv
from tests.support.stack import live_stack

pytestmark = pytest.mark.integration


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


def test_a_task_is_valued_by_a_real_worker_bought_and_paid_out(tmp_path):
    with live_stack(tmp_path) as stack:
        anon = Api(stack.url)
        providers = [anon.register(f"prov{i}", "provider") for i in range(3)]
        ids = [
            publish(providers[0], table_csv(80, seed=1), "honest A", reserve=100),
            publish(providers[1], table_csv(80, seed=2), "honest B"),
            publish(providers[2], table_csv(80, seed=3, flip=0.8), "flipped"),
        ]
        consumer = anon.register("buyer", "consumer")
        consumer("POST", "/wallet/deposit/", 201, json={"amount_cents": 50_000})
        created = submit_task(consumer)
        assert created["status"] == "queued"
        task = wait_for(consumer, created["id"], {"quoted", "failed"})
        assert task["status"] == "quoted", (task["error"], stack.worker_log.read_text()[-3000:])
        offer = task["quote"]["offer"]
        assert offer["sale"] and str(ids[2]) not in offer["bundle"]
        order = consumer(
            "POST", f"/tasks/{task['id']}/purchase/", 201, headers={"Idempotency-Key": "e2e-1"}
        )
        replay = consumer(
            "POST", f"/tasks/{task['id']}/purchase/", 201, headers={"Idempotency-Key": "e2e-1"}
        )
        assert replay == order
        for pid in offer["bundle"]:
            assert consumer("GET", f"/datasets/{pid}/download/", 200).content
        paid = sum(p("GET", "/payouts/", 200)["count"] for p in providers)
        assert paid == len(offer["settlement"]["payouts"])
        wallet = consumer("GET", "/wallet/", 200)
        settlement = offer["settlement"]
        assert wallet["balance_cents"] == (
            50_000 - settlement["charge_cents"] + settlement["refund_cents"]
        )
        assert wallet["held_cents"] == 0


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _job_state(stack, task_id: int) -> dict:
    """The task's job and chunks, read straight from the stack's database (fast enough to
    act on before the chunk running now finishes)."""
    import psycopg

    url = "postgresql://" + stack.env["DATABASE_URL"].split("://", 1)[1]
    with psycopg.connect(url) as conn:
        job_id, status, result = conn.execute(
            "SELECT j.id, j.status, j.result FROM marketplace_task t "
            "JOIN valuation_valuationjob j ON j.id = t.valuation_job_id WHERE t.id = %s",
            (task_id,),
        ).fetchone()
        chunks = conn.execute(
            "SELECT index, status, attempts FROM valuation_valuationchunk WHERE job_id = %s "
            "ORDER BY index",
            (job_id,),
        ).fetchall()
    return {
        "status": status,
        "values": (result or {}).get("values"),
        "chunks": [{"index": i, "status": st, "attempts": a} for i, st, a in chunks],
    }


def _clean_values(stack, task_id: int) -> list[float]:
    code = (
        "import json; from marketplace.models import Task; from valuation.data import "
        "load_job_data; from valuation.methods import build_estimator; "
        f"j = Task.objects.get(pk={task_id}).valuation_job; d = load_job_data(j.spec); "
        "e = build_estimator(j.method, j.spec, j.seed).fit(d.train, d.valid, baseline=d.baseline); "
        "print(json.dumps(list(e.result_.values)))"
    )
    return json.loads(stack.manage("shell", "-c", code).strip().splitlines()[-1])


def test_a_worker_killed_mid_chunk_loses_nothing_and_counts_nothing_twice(tmp_path, monkeypatch):
    # Small chunks of a slower model, so the kill lands inside a chunk: one unit (128
    # random-forest fits) of the payout basis a chunk.
    monkeypatch.setenv("DATAFAIR_COALITIONS_PER_CHUNK", "4")
    monkeypatch.setenv("DATAFAIR_ROW_UNITS_PER_CHUNK", "1")
    with live_stack(tmp_path, workers=1) as stack:
        anon = Api(stack.url)
        providers = [anon.register(f"kp{i}", "provider") for i in range(5)]
        for i, provider in enumerate(providers):
            publish(provider, table_csv(120, seed=i + 1), f"part {i}")
        consumer = anon.register("kbuyer", "consumer")
        consumer("POST", "/wallet/deposit/", 201, json={"amount_cents": 50_000})
        task_id = submit_task(consumer, model="random_forest")["id"]
        worker = stack.worker_pid
        deadline = time.monotonic() + 120
        killed = None
        while time.monotonic() < deadline and killed is None:
            state = _job_state(stack, task_id)
            statuses = [c["status"] for c in state["chunks"]]
            if "done" in statuses and "running" in statuses and statuses.count("pending") >= 2:
                children = _children(worker)
                assert children, "the prefork worker has no pool process"
                os.kill(children[0], signal.SIGKILL)
                killed = next(c["index"] for c in state["chunks"] if c["status"] == "running")
            time.sleep(0.02)
        assert killed is not None, "never caught a chunk running"
        task = wait_for(consumer, task_id, {"quoted", "failed"})
        assert task["status"] == "quoted", stack.worker_log.read_text()[-3000:]
        state = _job_state(stack, task_id)
        assert all(c["status"] == "done" for c in state["chunks"])
        attempts = {c["index"]: c["attempts"] for c in state["chunks"]}
        assert attempts[killed] == 2, f"chunk {killed} was killed but not re-run: {attempts}"
        assert state["values"] == pytest.approx(_clean_values(stack, task_id), abs=1e-12)
