"""Buying a quoted task: one transaction that captures the charge from the hold, settles it
through escrow to the providers, the platform fee and any withheld amount, releases the rest
of the hold, and grants the downloads. What is bought is either the quote's bundle of whole
datasets or the task's row-level offer (the rows' entitlements name the rows).

Money is conserved to the cent: the settlement from :mod:`pricing` already satisfies
charge = Σ payouts + fee + withheld + refund, and the ledger refuses any entry that does
not sum to zero. The task row is locked first, so two purchases of one task cannot both
pass the status check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from django.db import transaction
from django.db.models import F

from marketplace.models import (
    Dataset,
    Entitlement,
    JournalEntry,
    LedgerAccount,
    Order,
    Payout,
    Task,
    TaskInsight,
)
from marketplace.services.audit import audit_record
from marketplace.services.errors import Conflict, PermissionDenied, ServiceError
from marketplace.services.ledger import ledger_account, ledger_post
from marketplace.services.wallet import wallet_hold, wallet_release
from pricing.quote import Quote
from pricing.row_offer import RowOffer
from pricing.settlement import Settlement

Kind = LedgerAccount.Kind


def _receipt(task: Task, order: Order, dataset: Dataset, offer: Quote, cents: int) -> dict:
    job = task.valuation_job
    contribution = next(c for c in task.quote["contributions"] if c["dataset"] == dataset.pk)
    share = offer.shares.get(str(dataset.pk), Fraction(0))
    return {
        "order": order.pk,
        "task": task.pk,
        "dataset": {
            "id": dataset.pk,
            "title": dataset.title,
            "sha256": dataset.content_sha256,
            "rows": dataset.n_rows,
        },
        "valuation": {
            "job": job.pk,
            "method": job.method,
            "basis": "the sum of this dataset's rows' Shapley values, each row valued "
            "without knowing who owns it",
            "basis_metric": job.spec.metric,
            "rows_valued": job.spec.n_rows,
            "seed": job.seed,
            "code_version": job.code_version,
            "utility_evaluations": job.n_utility_evaluations,
            "model": task.model,
            "metric": task.metric,
            "validation_rows": task.schema["n_rows"],
        },
        "value": contribution["value"],
        "stderr": contribution["stderr"],
        "share": f"{share.numerator}/{share.denominator}",
        "payout_cents": cents,
        "charge_cents": offer.settlement.charge_cents,
        "fee_cents": offer.settlement.fee_cents,
    }


@dataclass(frozen=True)
class _Sale:
    """What a purchase settles: the settlement, the rows bought of each dataset (None: all
    of them) and each payout's receipt."""

    settlement: Settlement
    rows: dict[str, list[int] | None]
    receipt: Callable[[Order, Dataset, int], dict]


def _bundle_sale(task: Task) -> _Sale:
    offer = Quote.from_dict(task.quote["offer"])
    if not offer.sale:
        raise Conflict(f"there is nothing to buy: {offer.reason}")
    return _Sale(
        offer.settlement,
        {pid: None for pid in offer.bundle},
        lambda order, dataset, cents: _receipt(task, order, dataset, offer, cents),
    )


def _rows_sale(task: Task, offer_key: str | None) -> _Sale:
    insight = TaskInsight.objects.filter(task=task).first()
    if insight is None or not insight.row_offer:
        raise Conflict("ask for a row offer first (POST /api/tasks/<id>/row-offer/)")
    offer = RowOffer.from_dict(insight.row_offer)
    if offer_key is not None and offer_key != offer.key:
        raise Conflict("the row offer changed since you saw it; look at the new one and buy again")
    settlement = offer.settlement
    if settlement is None:
        raise Conflict("the row offer buys no rows: raise its budget")

    def receipt(order: Order, dataset: Dataset, cents: int) -> dict:
        rows = offer.rows[str(dataset.pk)]
        return {
            "order": order.pk,
            "task": task.pk,
            "kind": Order.Kind.ROWS,
            "dataset": {"id": dataset.pk, "title": dataset.title, "sha256": dataset.content_sha256},
            "rows": len(rows),
            "rows_price_cents": offer.row_cents[str(dataset.pk)],
            "pricing": "each row at its KNN-Shapley value times the task's value of a point",
            "payout_cents": cents,
            "charge_cents": settlement.charge_cents,
            "fee_cents": settlement.fee_cents,
        }

    return _Sale(settlement, {pid: list(rows) for pid, rows in offer.rows.items()}, receipt)


@transaction.atomic
def task_purchase(
    *, task: Task, user, kind: str = Order.Kind.BUNDLE, offer_key: str | None = None
) -> Order:
    """Buy a quoted task's offer: the bundle of whole datasets, or (``kind="rows"``) the
    latest row-level offer of :func:`marketplace.services.insights.task_row_offer` — the one
    named ``offer_key`` when given (refused if a newer offer replaced it)."""
    task = (
        Task.objects.select_for_update(of=("self",)).select_related("valuation_job").get(pk=task.pk)
    )
    if task.consumer_id != user.pk:
        raise PermissionDenied("this is not your task")
    if task.status == Task.Status.PURCHASED:
        raise Conflict("this task has already been purchased")
    if task.status != Task.Status.QUOTED:
        raise Conflict(f"the task is {task.status}; only a quoted task can be bought")
    if kind not in Order.Kind.values:
        raise ServiceError(f"kind must be one of {', '.join(Order.Kind.values)}", field="kind")
    sale = _rows_sale(task, offer_key) if kind == Order.Kind.ROWS else _bundle_sale(task)
    datasets = Dataset.objects.select_related("owner").in_bulk([int(pid) for pid in sale.rows])
    gone = sorted(pk for pk, d in datasets.items() if d.status != Dataset.Status.PUBLISHED)
    if gone:
        raise Conflict(
            f"dataset(s) {', '.join(map(str, gone))} are no longer on sale (held for review); "
            "this offer cannot be bought"
        )
    settlement = sale.settlement
    charge = settlement.charge_cents
    reference = f"task:{task.pk}"
    if charge > task.held_cents:
        if kind == Order.Kind.BUNDLE:
            raise Conflict("the quote exceeds the budget held for this task")
        # A quote without a sale released the hold; a row purchase holds what it needs.
        wallet_hold(user=user, amount_cents=charge - task.held_cents, reference=reference)
        task.held_cents = charge
    order = Order.objects.create(
        kind=kind,
        consumer=user,
        task=task,
        price_cents=charge,
        fee_cents=settlement.fee_cents,
        withheld_cents=settlement.withheld_cents,
        refund_cents=settlement.refund_cents,
        quote=task.quote,
    )
    escrow = ledger_account(Kind.ESCROW)
    ledger_post(
        kind=JournalEntry.Kind.CAPTURE,
        memo=f"order {order.pk}: capture {charge} cents",
        reference=reference,
        postings=[(ledger_account(Kind.HOLD, user), -charge), (escrow, charge)],
    )
    postings = [
        (escrow, -charge),
        (ledger_account(Kind.FEE), settlement.fee_cents),
        (ledger_account(Kind.RESERVE), settlement.withheld_cents),
        (ledger_account(Kind.WALLET, user), settlement.refund_cents),
    ]
    for pid, cents in settlement.payouts.items():
        dataset = datasets[int(pid)]
        postings.append((ledger_account(Kind.PAYABLE, dataset.owner), cents))
        Payout.objects.create(
            order=order,
            provider=dataset.owner,
            dataset=dataset,
            amount_cents=cents,
            receipt=sale.receipt(order, dataset, cents),
        )
    ledger_post(
        kind=JournalEntry.Kind.SETTLE,
        memo=f"order {order.pk}: settle {charge} cents",
        reference=reference,
        postings=postings,
    )
    wallet_release(user=user, amount_cents=task.held_cents - charge, reference=reference)
    for pid, dataset in datasets.items():
        Entitlement.objects.create(
            user=user, dataset=dataset, order=order, rows=sale.rows[str(pid)]
        )
    Dataset.objects.filter(pk__in=datasets).update(sales_count=F("sales_count") + 1)
    task.status = Task.Status.PURCHASED
    task.held_cents = 0
    task.save(update_fields=["status", "held_cents", "updated_at"])
    audit_record(
        actor=user,
        action="order.purchase",
        obj=order,
        data={"charge_cents": charge, "datasets": sorted(datasets), "kind": kind},
    )
    return order
