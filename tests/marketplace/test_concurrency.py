"""Purchases and holds under concurrent requests, on PostgreSQL's row locks: one key is one
charge, one task is bought once, and a wallet is never overdrawn."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection, connections
from django.db.models import Sum

from marketplace.models import LedgerAccount, Order, Posting, Task
from marketplace.services.wallet import wallet_deposit
from tests.support.builders import client_for, make_user, publish, submit, table_csv, upload
from tests.support.jobs import run_task
from tests.support.services import unavailable

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        unavailable("PostgreSQL as the test database (set DATABASE_URL)")


def in_parallel(n: int, call) -> list:
    """Run ``call(i)`` in ``n`` threads released together; return the results in order."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = call(i)
        except BaseException as exc:  # reported to the test, not lost in the thread
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return results


def quoted_task():
    providers = [make_user(f"cp{i}", "provider") for i in range(2)]
    for i, provider in enumerate(providers):
        publish(client_for(provider), table_csv(80, seed=i + 1), f"part {i}")
    consumer = make_user("cbuyer", "consumer")
    wallet_deposit(user=consumer, amount_cents=50_000)
    body = submit(consumer).json()
    task = Task.objects.get(pk=body["id"])
    run_task(task)
    task.refresh_from_db()
    assert task.status == "quoted" and task.quote["offer"]["sale"]
    return consumer, task


def assert_money_conserved():
    assert Posting.objects.aggregate(total=Sum("amount_cents"))["total"] == 0
    for account in LedgerAccount.objects.all():
        posted = account.postings.aggregate(total=Sum("amount_cents"))["total"] or 0
        assert posted == account.balance_cents, account.key
        if account.kind != LedgerAccount.Kind.EXTERNAL:
            assert account.balance_cents >= 0, account.key


def test_twenty_concurrent_purchases_with_one_key_charge_once():
    consumer, task = quoted_task()
    responses = in_parallel(
        20,
        lambda i: client_for(consumer).post(
            f"/api/tasks/{task.pk}/purchase/", HTTP_IDEMPOTENCY_KEY="one-key"
        ),
    )
    assert Counter(r.status_code for r in responses) == {201: 20}
    assert len({r.json()["id"] for r in responses}) == 1
    assert Order.objects.count() == 1
    charge = task.quote["offer"]["settlement"]["charge_cents"]
    refund = task.quote["offer"]["settlement"]["refund_cents"]
    wallet = client_for(consumer).get("/api/wallet/").json()
    assert wallet["balance_cents"] == 50_000 - charge + refund
    assert_money_conserved()


def test_concurrent_purchases_with_different_keys_buy_the_task_once():
    consumer, task = quoted_task()
    responses = in_parallel(
        10,
        lambda i: client_for(consumer).post(
            f"/api/tasks/{task.pk}/purchase/", HTTP_IDEMPOTENCY_KEY=f"key-{i}"
        ),
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 9}
    assert Order.objects.count() == 1
    assert_money_conserved()


def funded_consumer(tag: str):
    """A consumer with 50,000 cents and one published dataset to value."""
    provider = make_user(f"{tag}p", "provider")
    publish(client_for(provider), table_csv(60, seed=1), "data")
    consumer = make_user(f"{tag}buyer", "consumer")
    wallet_deposit(user=consumer, amount_cents=50_000)
    return consumer


def submitting(consumer, budget_cents: int):
    """``call(i)`` for :func:`in_parallel`: the consumer submits a task through the API."""

    def submit(i: int):
        form = {
            "validation_file": upload(table_csv(60, seed=9), "valid.csv"),
            "label_column": "y",
            "metric": "accuracy",
            "model": "logistic_regression",
            "budget_cents": budget_cents,
            "value_per_point_cents": 100,
        }
        return client_for(consumer).post("/api/tasks/", form, format="multipart")

    return submit


def test_concurrent_submissions_cannot_pass_the_hourly_limit_together(settings):
    settings.DATAFAIR_TASKS_PER_HOUR = 3
    consumer = funded_consumer("r")
    responses = in_parallel(8, submitting(consumer, 1_000))
    assert Counter(r.status_code for r in responses) == {201: 3, 429: 5}
    assert Task.objects.count() == 3
    assert client_for(consumer).get("/api/wallet/").json()["held_cents"] == 3_000
    assert_money_conserved()


def test_a_cancel_that_loses_to_a_purchase_is_a_409():
    from marketplace.services.errors import Conflict
    from marketplace.services.purchases import task_purchase
    from marketplace.services.tasks import task_cancel

    consumer, task = quoted_task()
    stale = Task.objects.get(pk=task.pk)  # read by the cancel before the purchase commits
    task_purchase(task=task, user=consumer)
    with pytest.raises(Conflict, match="purchased before it could be cancelled"):
        task_cancel(task=stale, user=consumer)
    assert Task.objects.get(pk=task.pk).status == "purchased"
    assert_money_conserved()


def test_concurrent_tasks_never_overdraw_one_wallet():
    consumer = funded_consumer("w")
    responses = in_parallel(8, submitting(consumer, 10_000))
    assert Counter(r.status_code for r in responses) == {201: 5, 402: 3}
    assert Task.objects.count() == 5
    wallet = client_for(consumer).get("/api/wallet/").json()
    assert (wallet["balance_cents"], wallet["held_cents"]) == (0, 50_000)
    assert_money_conserved()
