"""Wallet deposits, holds and the ledger's invariants."""

import pytest
from django.db.models import Sum

from marketplace.models import LedgerAccount, Posting
from marketplace.services.errors import InsufficientFunds
from marketplace.services.wallet import wallet_deposit, wallet_hold, wallet_release

pytestmark = pytest.mark.django_db


def test_deposit_through_the_api_shows_in_balance_and_statement(consumer_client):
    response = consumer_client.post("/api/wallet/deposit/", {"amount_cents": 2500}, format="json")
    assert response.status_code == 201
    wallet = consumer_client.get("/api/wallet/").json()
    assert wallet["balance_cents"] == 2500 and wallet["held_cents"] == 0
    assert wallet["statement"][0]["amount_cents"] == 2500


@pytest.mark.parametrize("amount", [0, -5, "ten", 10**12])
def test_bad_deposits_are_refused(consumer_client, amount):
    response = consumer_client.post("/api/wallet/deposit/", {"amount_cents": amount}, format="json")
    assert response.status_code == 400
    assert "amount_cents" in response.json()["errors"]


def test_holds_never_overdraw_and_every_entry_balances(consumer):
    wallet_deposit(user=consumer, amount_cents=1000)
    wallet_hold(user=consumer, amount_cents=600, reference="task:1")
    with pytest.raises(InsufficientFunds):
        wallet_hold(user=consumer, amount_cents=401, reference="task:2")
    wallet_release(user=consumer, amount_cents=600, reference="task:1")
    balances = dict(
        LedgerAccount.objects.filter(owner=consumer).values_list("kind", "balance_cents")
    )
    assert balances == {"wallet": 1000, "hold": 0}
    assert Posting.objects.aggregate(total=Sum("amount_cents"))["total"] == 0
    for account in LedgerAccount.objects.all():
        posted = account.postings.aggregate(total=Sum("amount_cents"))["total"] or 0
        assert posted == account.balance_cents
