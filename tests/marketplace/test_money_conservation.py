"""Random sequences of deposits, tasks, failures, cancellations and purchases: after every
step the ledger balances, no one's money goes negative, and each consumer's wallet plus
holds equals what they deposited minus what they were charged net of refunds."""

import contextlib

import numpy as np
import pytest
from django.db.models import Sum

from marketplace.models import LedgerAccount, Order, Posting, Task
from marketplace.services.errors import ServiceError
from marketplace.services.purchases import task_purchase
from marketplace.services.tasks import task_cancel
from marketplace.services.wallet import wallet_deposit
from tests.support.builders import client_for, make_user, publish, table_csv, upload
from tests.support.jobs import run_task

pytestmark = pytest.mark.django_db


def check_invariants(consumers, deposited):
    assert Posting.objects.aggregate(total=Sum("amount_cents"))["total"] in (0, None)
    for account in LedgerAccount.objects.all():
        posted = account.postings.aggregate(total=Sum("amount_cents"))["total"] or 0
        assert posted == account.balance_cents, account.key
        if account.kind != LedgerAccount.Kind.EXTERNAL:
            assert account.balance_cents >= 0, account.key
    for user in consumers:
        balances = dict(
            LedgerAccount.objects.filter(owner=user).values_list("kind", "balance_cents")
        )
        orders = Order.objects.filter(consumer=user)
        net_charged = sum(o.price_cents - o.refund_cents for o in orders)
        assert (
            balances.get("wallet", 0) + balances.get("hold", 0) == deposited[user.pk] - net_charged
        )
        held = sum(Task.objects.filter(consumer=user).values_list("held_cents", flat=True))
        assert balances.get("hold", 0) == held


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_money_is_conserved_over_random_flows(seed):
    rng = np.random.default_rng(seed)
    providers = [make_user(f"mp{i}", "provider") for i in range(3)]
    for i, provider in enumerate(providers):
        flip = 0.7 if i == 2 else 0.0
        publish(
            client_for(provider),
            table_csv(60, seed=i + 1, flip=flip),
            f"d{i}",
            reserve=int(rng.integers(0, 800)),
        )
    consumers = [make_user(f"mc{i}", "consumer") for i in range(2)]
    deposited = {c.pk: 0 for c in consumers}
    for user in consumers:
        wallet_deposit(user=user, amount_cents=20_000)
        deposited[user.pk] += 20_000
    for _ in range(40):
        user = consumers[int(rng.integers(len(consumers)))]
        mine = Task.objects.filter(consumer=user).order_by("id")
        action = rng.choice(
            ["deposit", "submit", "submit", "run", "run", "run", "cancel", "buy", "buy", "buy"]
        )
        if action == "deposit":
            amount = int(rng.integers(1, 20_000))
            wallet_deposit(user=user, amount_cents=amount)
            deposited[user.pk] += amount
        elif action == "submit":
            form = {
                "validation_file": upload(table_csv(100, seed=9), "v.csv"),
                "label_column": "y",
                "metric": "accuracy",
                "model": "logistic_regression",
                "budget_cents": int(rng.integers(100, 15_000)),
                "value_per_point_cents": int(rng.integers(0, 2_000)),
            }
            response = client_for(user).post("/api/tasks/", form, format="multipart")
            assert response.status_code in (201, 402), response.json()
        elif action == "run":
            pending = [t for t in mine if t.valuation_job.status == "pending"]
            if pending:
                job = pending[0].valuation_job
                if rng.random() < 0.2:  # a job that breaks
                    job.spec = job.spec.replace(valid="gone.csv")
                    job.save(update_fields=["spec"])
                run_task(pending[0])
        elif action == "cancel" and mine:
            with contextlib.suppress(ServiceError):
                task_cancel(task=mine[int(rng.integers(len(mine)))], user=user)
        elif action == "buy":
            quoted = [t for t in mine if t.status == "quoted"]
            # Now and then try to buy something not for sale: it must be refused cleanly.
            target = (
                quoted[0] if quoted and rng.random() < 0.8 else (mine.first() if mine else None)
            )
            if target is not None:
                with contextlib.suppress(ServiceError):
                    task_purchase(task=target, user=user)
        check_invariants(consumers, deposited)
    assert Order.objects.exists(), "the flow never reached a purchase: make it reach one"
