"""A small, complete market for the contract and access-control tests.

Five users with distinct roles, datasets in both statuses, a purchased task with its order and
payouts, an open task, and one user who is provider and consumer at once with data on both
sides. Everything is made through the real API (uploads, tasks, purchases) and the valuation
runs in-process, so the objects are the ones a client would meet.

The ``contract_market`` fixture (tests/conftest.py) builds it once per test module, inside
a transaction rolled back when the module ends; each test runs in a savepoint within it
(pytest-django's ``db``), so what one test changes the next does not see
(tests/support/shared.py).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from marketplace.models import Order, Task
from tests.support.builders import client_for, make_user, screened, table_csv, upload
from tests.support.jobs import run_task

VALIDATION_NAME = "carl-private-validation.csv"
BASELINE_NAME = "carl-private-baseline.csv"
TRADER_VALIDATION_NAME = "tess-private-validation.csv"


def consumer_table(n_rows: int, *, seed: int, flip: float = 0.0) -> tuple[bytes, list[float]]:
    """A consumer's private table on the market's problem, and its ``f1`` values.

    The features are nudged by a seeded offset far below any model's notice, so that every
    ``f1`` value is a number no provider's table holds: finding one in a response proves the
    consumer's rows leaked.
    """
    frame = pd.read_csv(io.BytesIO(table_csv(n_rows, seed=seed, flip=flip)))
    rng = np.random.default_rng(seed)
    frame["f1"] = frame["f1"] + rng.uniform(1e-7, 2e-7, size=n_rows)
    return frame.to_csv(index=False).encode(), frame["f1"].tolist()


@dataclass
class Market:
    """Who is who, and the objects each of them owns."""

    provider: User
    other_provider: User
    consumer: User
    other_consumer: User
    trader: User
    published: dict  # the provider's published dataset (API body)
    held: dict  # the provider's dataset held as a copy of the other provider's
    original: dict  # the other provider's published dataset, bought by consumer and trader
    trader_dataset: dict  # the trader's published dataset, bought by the consumer
    task: Task  # the consumer's purchased task
    open_task: Task  # the consumer's task still waiting for its valuation
    order: Order
    trader_task: Task
    trader_order: Order
    # Per consumer: the names of their private files and the ``f1`` values of their rows.
    private: dict[str, tuple[list[str], list[float]]] = field(default_factory=dict)


def publish(client: APIClient, data: bytes, title: str, **fields) -> dict:
    form = {
        "title": title,
        "license": "CC-BY-4.0",
        "label_column": "y",
        "reserve_price_cents": 0,
        **fields,
        "file": upload(data, f"{title.replace(' ', '-')}.csv"),
    }
    response = client.post("/api/datasets/", form, format="multipart")
    assert response.status_code == 201, response.json()
    dataset_id = response.json()["id"]
    screened(dataset_id)  # as the worker does after the upload commits
    return client.get(f"/api/datasets/{dataset_id}/").json()


def submit(client: APIClient, validation: bytes, name: str, **fields) -> Task:
    form = {
        "validation_file": upload(validation, name),
        "label_column": "y",
        "metric": "accuracy",
        "model": "logistic_regression",
        "budget_cents": 20_000,
        "value_per_point_cents": 500,
        **fields,
    }
    response = client.post("/api/tasks/", form, format="multipart")
    assert response.status_code == 201, response.json()
    return Task.objects.get(pk=response.json()["id"])


def buy(client: APIClient, task: Task) -> Order:
    task = run_task(task)
    assert task.status == Task.Status.QUOTED, task.error
    response = client.post(f"/api/tasks/{task.pk}/purchase/", HTTP_IDEMPOTENCY_KEY="first")
    assert response.status_code == 201, response.json()
    return Order.objects.get(pk=response.json()["id"])


def bought(order: Order) -> set[int]:
    return set(order.entitlements.values_list("dataset_id", flat=True))


def build_market() -> Market:
    provider = make_user("paula", "provider")
    other_provider = make_user("quinn", "provider")
    consumer = make_user("carl", "consumer")
    other_consumer = make_user("cora", "consumer")
    trader = make_user("tess", "provider", "consumer")
    for user in (consumer, other_consumer, trader):
        client_for(user).post("/api/wallet/deposit/", {"amount_cents": 100_000}, format="json")

    original = publish(
        client_for(other_provider), table_csv(80, seed=2), "quinn original", preview_policy="none"
    )
    published = publish(
        client_for(provider), table_csv(80, seed=1), "paula shop", preview_policy="sample"
    )
    held = publish(client_for(provider), table_csv(80, seed=2), "paula copy")
    assert held["status"] == "held"
    trader_dataset = publish(client_for(trader), table_csv(80, seed=7), "tess own")

    validation, secret = consumer_table(150, seed=9)
    # A small, noisy baseline leaves the providers' data a clear lift to sell.
    baseline, baseline_secret = consumer_table(10, seed=10, flip=0.4)
    consumer_client = client_for(consumer)
    task = submit(
        consumer_client,
        validation,
        VALIDATION_NAME,
        baseline_file=upload(baseline, BASELINE_NAME),
        candidates=[trader_dataset["id"], original["id"]],
        title="carl churn",
    )
    order = buy(consumer_client, task)
    open_task = submit(consumer_client, validation, VALIDATION_NAME, title="carl open")

    trader_validation, trader_secret = consumer_table(150, seed=11)
    trader_client = client_for(trader)
    trader_task = submit(
        trader_client,
        trader_validation,
        TRADER_VALIDATION_NAME,
        candidates=[published["id"], original["id"]],
        title="tess task",
    )
    trader_order = buy(trader_client, trader_task)
    task.refresh_from_db()
    # The scenario the tests reason about: every candidate made it into its buyer's bundle.
    assert bought(order) == {trader_dataset["id"], original["id"]}
    assert bought(trader_order) == {published["id"], original["id"]}
    return Market(
        provider=provider,
        other_provider=other_provider,
        consumer=consumer,
        other_consumer=other_consumer,
        trader=trader,
        published=published,
        held=held,
        original=original,
        trader_dataset=trader_dataset,
        task=task,
        open_task=open_task,
        order=order,
        trader_task=trader_task,
        trader_order=trader_order,
        private={
            consumer.username: ([VALIDATION_NAME, BASELINE_NAME], secret + baseline_secret),
            trader.username: ([TRADER_VALIDATION_NAME], trader_secret),
        },
    )
