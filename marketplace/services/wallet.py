"""A user's wallet: demo deposits through a payment gateway, holds for tasks, releases.

There is no real payment processor: :class:`DemoCreditGateway` grants the credits. A real
one only has to implement :class:`PaymentGateway`.
"""

from __future__ import annotations

from typing import Protocol

from django.db import transaction

from marketplace.models import JournalEntry, LedgerAccount
from marketplace.services.audit import audit_record
from marketplace.services.errors import ServiceError
from marketplace.services.ledger import ledger_account, ledger_post
from pricing.money import MAX_AMOUNT_CENTS

MAX_DEPOSIT_CENTS = 100_000_000  # one million in major units per deposit


class PaymentGateway(Protocol):
    def charge(self, *, user, amount_cents: int) -> str:
        """Collect ``amount_cents`` from the user; return the processor's reference."""


class DemoCreditGateway:
    """Grants demo credits: every charge succeeds."""

    def charge(self, *, user, amount_cents: int) -> str:
        return f"demo-credit-{user.pk}"


def check_amount(
    amount_cents: int,
    field: str = "amount_cents",
    *,
    minimum: int = 1,
    maximum: int = MAX_AMOUNT_CENTS,
) -> None:
    """Refuse an amount that is not a whole number of cents in ``[minimum, maximum]``,
    naming the field: every amount a user sets passes here before it is stored."""
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool):
        raise ServiceError("must be a whole number of cents", field=field)
    if not minimum <= amount_cents <= maximum:
        raise ServiceError(f"must be from {minimum} to {maximum} cents", field=field)


@transaction.atomic
def wallet_deposit(*, user, amount_cents: int, gateway: PaymentGateway | None = None):
    check_amount(amount_cents, maximum=MAX_DEPOSIT_CENTS)
    reference = (gateway or DemoCreditGateway()).charge(user=user, amount_cents=amount_cents)
    entry = ledger_post(
        kind=JournalEntry.Kind.DEPOSIT,
        memo=f"deposit of {amount_cents} cents",
        reference=reference,
        postings=[
            (ledger_account(LedgerAccount.Kind.EXTERNAL), -amount_cents),
            (ledger_account(LedgerAccount.Kind.WALLET, user), amount_cents),
        ],
    )
    audit_record(actor=user, action="wallet.deposit", obj=entry, data={"cents": amount_cents})
    return entry


def wallet_hold(*, user, amount_cents: int, reference: str) -> JournalEntry:
    """Move ``amount_cents`` from spendable to held; fails with InsufficientFunds."""
    check_amount(amount_cents, field="budget_cents")
    entry = ledger_post(
        kind=JournalEntry.Kind.HOLD,
        memo=f"hold {amount_cents} cents for {reference}",
        reference=reference,
        postings=[
            (ledger_account(LedgerAccount.Kind.WALLET, user), -amount_cents),
            (ledger_account(LedgerAccount.Kind.HOLD, user), amount_cents),
        ],
    )
    audit_record(actor=user, action="wallet.hold", obj=entry, data={"cents": amount_cents})
    return entry


def wallet_release(*, user, amount_cents: int, reference: str) -> JournalEntry | None:
    if amount_cents == 0:
        return None
    entry = ledger_post(
        kind=JournalEntry.Kind.RELEASE,
        memo=f"release {amount_cents} cents held for {reference}",
        reference=reference,
        postings=[
            (ledger_account(LedgerAccount.Kind.HOLD, user), -amount_cents),
            (ledger_account(LedgerAccount.Kind.WALLET, user), amount_cents),
        ],
    )
    audit_record(actor=user, action="wallet.release", obj=entry, data={"cents": amount_cents})
    return entry
