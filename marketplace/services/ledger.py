"""Posting balanced journal entries to the double-entry ledger.

All money moves through :func:`ledger_post`: it locks the touched accounts in primary-key
order (so two transfers never deadlock), refuses an entry whose postings do not sum to zero,
refuses to take a spendable account below zero, and updates the cached balances in the same
transaction as the postings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction

from marketplace.models import JournalEntry, LedgerAccount, Posting
from marketplace.services.errors import InsufficientFunds

# Accounts that hold someone's money: they may never go below zero.
NON_NEGATIVE = {
    LedgerAccount.Kind.WALLET,
    LedgerAccount.Kind.HOLD,
    LedgerAccount.Kind.ESCROW,
    LedgerAccount.Kind.PAYABLE,
}


def ledger_account(kind: str, owner=None) -> LedgerAccount:
    """The account of ``kind`` for ``owner`` (a user, or None for the platform), created on
    first use."""
    key = f"{kind}:{owner.pk}" if owner is not None else f"{kind}:platform"
    account, _ = LedgerAccount.objects.get_or_create(
        key=key, defaults={"kind": kind, "owner": owner}
    )
    return account


@transaction.atomic
def ledger_post(
    *, kind: str, memo: str, postings: Iterable[tuple[LedgerAccount, int]], reference: str = ""
) -> JournalEntry:
    """Post one balanced entry. ``postings`` are (account, signed cents); zero lines are
    dropped; the same account may appear more than once."""
    net: dict[int, int] = defaultdict(int)
    for account, amount in postings:
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise TypeError(f"amounts are integer cents, got {amount!r}")
        net[account.pk] += amount
    if sum(net.values()) != 0:
        raise ValueError(f"unbalanced entry {memo!r}: postings sum to {sum(net.values())}")
    lines = {pk: amount for pk, amount in net.items() if amount != 0}
    locked = LedgerAccount.objects.select_for_update().filter(pk__in=lines).order_by("pk")
    accounts = {account.pk: account for account in locked}
    for pk, amount in lines.items():
        account = accounts[pk]
        new_balance = account.balance_cents + amount
        if new_balance < 0 and account.kind in NON_NEGATIVE:
            raise InsufficientFunds(
                f"{account.get_kind_display().lower()} has {account.balance_cents} cents; "
                f"{-amount} needed"
            )
        account.balance_cents = new_balance
    entry = JournalEntry.objects.create(kind=kind, memo=memo, reference=reference)
    Posting.objects.bulk_create(
        Posting(entry=entry, account_id=pk, amount_cents=amount) for pk, amount in lines.items()
    )
    LedgerAccount.objects.bulk_update(accounts.values(), ["balance_cents"])
    return entry
