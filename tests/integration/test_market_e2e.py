"""The market end to end through the real processes: the API served by gunicorn, the
valuation computed by a separate ``celery worker`` on Redis, PostgreSQL underneath — and a
worker killed in the middle of a job still gives the clean run's answer."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.support.api import Api, children, clean_values, job_state, publish, submit_task, wait_for
from tests.support.builders import table_csv
from tests.support.stack import live_stack

pytestmark = pytest.mark.integration


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


def test_a_worker_killed_mid_chunk_loses_nothing_and_counts_nothing_twice(tmp_path, monkeypatch):
    # Small chunks of a slower model, so the kill lands inside a chunk: one unit (128
    # random-forest fits) of the payout basis a chunk.
    monkeypatch.setenv("DATAFAIR_COALITIONS_PER_CHUNK", "4")
    monkeypatch.setenv("DATAFAIR_ROW_UNITS_PER_CHUNK", "1")
    # Without beat: the pool process killed is the one running the chunk, and the re-run is
    # the claim taking over a dead holder at once, not the sweep.
    with live_stack(tmp_path, workers=1, beat=False) as stack:
        anon = Api(stack.url)
        providers = [anon.register(f"kp{i}", "provider") for i in range(3)]
        for i, provider in enumerate(providers):
            publish(provider, table_csv(80, seed=i + 1), f"part {i}")
        consumer = anon.register("kbuyer", "consumer")
        consumer("POST", "/wallet/deposit/", 201, json={"amount_cents": 50_000})
        task_id = submit_task(consumer, model="random_forest")["id"]
        clean = clean_values(stack, task_id)
        worker = stack.worker_pid
        deadline = time.monotonic() + 120
        killed = None
        while time.monotonic() < deadline and killed is None:
            state = job_state(stack, task_id)
            statuses = [c["status"] for c in state["chunks"]]
            if "done" in statuses and "running" in statuses and statuses.count("pending") >= 2:
                pool = children(worker)
                assert pool, "the prefork worker has no pool process"
                os.kill(pool[0], signal.SIGKILL)
                killed = next(c["index"] for c in state["chunks"] if c["status"] == "running")
            time.sleep(0.02)
        assert killed is not None, "never caught a chunk running"
        task = wait_for(consumer, task_id, {"quoted", "failed"})
        assert task["status"] == "quoted", stack.worker_log.read_text()[-3000:]
        state = job_state(stack, task_id)
        assert all(c["status"] == "done" for c in state["chunks"])
        attempts = {c["index"]: c["attempts"] for c in state["chunks"]}
        assert attempts[killed] == 2, f"chunk {killed} was killed but not re-run: {attempts}"
        assert state["values"] == pytest.approx(clean.result(timeout=300), abs=1e-12)
