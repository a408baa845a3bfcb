"""A user's balances and statement, read from the ledger."""

from __future__ import annotations

from marketplace.models import LedgerAccount, Posting


def wallet_summary(*, user) -> dict[str, int]:
    balances = dict(LedgerAccount.objects.filter(owner=user).values_list("kind", "balance_cents"))
    return {
        "balance_cents": balances.get(LedgerAccount.Kind.WALLET, 0),
        "held_cents": balances.get(LedgerAccount.Kind.HOLD, 0),
        "earnings_cents": balances.get(LedgerAccount.Kind.PAYABLE, 0),
    }


def wallet_statement(*, user, limit: int = 100) -> list[dict]:
    postings = (
        Posting.objects.filter(account__owner=user)
        .select_related("entry", "account")
        .order_by("-entry_id", "-id")[:limit]
    )
    return [
        {
            "entry": p.entry_id,
            "kind": p.entry.kind,
            "memo": p.entry.memo,
            "account": p.account.kind,
            "amount_cents": p.amount_cents,
            "created_at": p.entry.created_at,
        }
        for p in postings
    ]
