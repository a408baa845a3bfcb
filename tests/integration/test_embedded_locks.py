"""The embedded defaults under load: with the web server and a real worker writing to the
same SQLite file, no request fails for a lock ("database is locked" answered 500 before)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.api import Api, publish, submit_task, wait_for
from tests.support.builders import table_csv
from tests.support.stack import live_stack

pytestmark = pytest.mark.integration

REQUESTS = 500


def test_no_request_fails_for_a_lock_while_a_worker_values_tasks(tmp_path):
    with live_stack(tmp_path, database="sqlite", broker="filesystem") as stack:
        anon = Api(stack.url)
        providers = [anon.register(f"lock{i}", "provider") for i in range(3)]
        for i, provider in enumerate(providers):
            publish(provider, table_csv(120, seed=i + 1), f"rows {i}")
        # Row hashes on SQLite: another account's copy of the same rows is held at upload.
        copier = anon.register("lock-copier", "provider")
        copy = copier(
            "POST",
            "/datasets/",
            201,
            files={"file": ("copy.csv", table_csv(120, seed=1))},
            data={"title": "copy", "license": "CC-BY-4.0", "label_column": "y"},
        )
        assert copy["status"] == "held" and "100%" in copy["hold_reason"], copy
        consumer = anon.register("lock-buyer", "consumer")
        consumer("POST", "/wallet/deposit/", 201, json={"amount_cents": 100_000})
        tasks = [submit_task(consumer)["id"] for _ in range(3)]

        # A mix of writes (deposits: a ledger transaction each) and reads, from 8 threads
        # (a session each) and two gunicorn processes, while the worker writes chunks,
        # progress and quotes.
        local = threading.local()

        def call(i: int) -> tuple[int, bool]:
            if not hasattr(local, "session"):
                local.session = requests.Session()
                local.session.headers.update(consumer.session.headers)
            api = f"{stack.url}/api"
            last = local.session.get(f"{api}/tasks/{tasks[-1]}/", timeout=60)
            busy = last.ok and last.json()["status"] in {"queued", "running"}
            if i % 3 == 0:
                response = local.session.post(
                    f"{api}/wallet/deposit/", json={"amount_cents": 1}, timeout=60
                )
            else:
                path = ("/datasets/", "/wallet/", f"/tasks/{tasks[i % 3]}/")[i % 4 % 3]
                response = local.session.get(f"{api}{path}", timeout=60)
            return response.status_code if last.ok else last.status_code, busy

        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(call, range(REQUESTS)))
        seconds = time.monotonic() - started

        statuses = Counter(status for status, _ in answers)
        assert set(statuses) <= {200, 201}, (statuses, stack.web_log.read_text()[-3000:])
        # The load overlapped the valuation (not a quiet database after it).
        assert sum(busy for _, busy in answers) >= REQUESTS // 2, seconds
        wallet = consumer("GET", "/wallet/", 200)
        assert wallet["balance_cents"] + wallet["held_cents"] == 100_000 + statuses[201]

        for task_id in tasks:
            task = wait_for(consumer, task_id, {"quoted", "failed"})
            assert task["status"] == "quoted", task["error"]
        assert "database is locked" not in stack.worker_log.read_text()
