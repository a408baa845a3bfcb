"""After a quote the real worker computes the task's insights; a consumer then buys the most
valuable rows through the API and downloads exactly those rows."""

from __future__ import annotations

import csv
import io
import time

import pytest

from tests.support.api import Api, publish, submit_task, wait_for
from tests.support.builders import table_csv
from tests.support.stack import live_stack

pytestmark = pytest.mark.integration


def wait_for_insights(consumer: Api, task_id: int, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        insight = consumer("GET", f"/tasks/{task_id}/insights/", 200)
        if insight["status"] in ("ready", "failed"):
            return insight
        time.sleep(0.5)
    raise AssertionError(f"the insights of task {task_id} stayed {insight['status']}")


def test_a_worker_computes_insights_and_a_row_purchase_delivers_the_rows(tmp_path):
    with live_stack(tmp_path) as stack:
        anon = Api(stack.url)
        providers = [anon.register(f"prov{i}", "provider") for i in range(3)]
        data = [table_csv(80, seed=1), table_csv(80, seed=2), table_csv(80, seed=3, flip=0.8)]
        ids = [publish(p, raw, f"set {i}") for i, (p, raw) in enumerate(zip(providers, data))]
        consumer = anon.register("buyer", "consumer")
        consumer("POST", "/wallet/deposit/", 201, json={"amount_cents": 50_000})
        task = wait_for(consumer, submit_task(consumer)["id"], {"quoted", "failed"})
        assert task["status"] == "quoted", (task["error"], stack.worker_log.read_text()[-3000:])

        insight = wait_for_insights(consumer, task["id"])
        assert insight["status"] == "ready", (
            insight["error"],
            stack.worker_log.read_text()[-3000:],
        )
        measured = insight["report"]["prune"]["datasets"]
        assert measured[0]["dataset"] == ids[2], "dropping the flipped dataset helps most"
        assert measured[0]["score_after"] > measured[0]["score_before"]

        offer = consumer(
            "POST", f"/tasks/{task['id']}/row-offer/", 200, json={"budget_cents": 4_000}
        )
        assert 0 < offer["price_cents"] <= 4_000
        order = consumer(
            "POST",
            f"/tasks/{task['id']}/purchase/",
            201,
            json={"kind": "rows"},
            headers={"Idempotency-Key": "rows-e2e"},
        )
        assert order["kind"] == "rows" and order["price_cents"] == offer["price_cents"]
        for dataset, rows in offer["rows"].items():
            got = consumer("GET", f"/datasets/{dataset}/download/", 200).content.decode()
            original = list(csv.reader(io.StringIO(data[ids.index(int(dataset))].decode())))
            expected = [original[0]] + [original[1 + row] for row in sorted(rows)]
            assert list(csv.reader(io.StringIO(got))) == expected
        wallet = consumer("GET", "/wallet/", 200)
        assert wallet["balance_cents"] == 50_000 - offer["price_cents"]
        assert wallet["held_cents"] == 0
