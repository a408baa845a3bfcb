"""Buying a quoted task: one transaction that captures the charge from the hold, settles it
through escrow to the providers, the platform fee and any withheld amount, releases the rest
of the hold, and grants the downloads.

Money is conserved to the cent: the settlement from :mod:`pricing` already satisfies
charge = Σ payouts + fee + withheld + refund, and the ledger refuses any entry that does
not sum to zero. The task row is locked first, so two purchases of one task cannot both
pass the status check.
"""

from __future__ import annotations

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
)
from marketplace.services.audit import audit_record
from marketplace.services.errors import Conflict, PermissionDenied
from marketplace.services.ledger import ledger_account, ledger_post
from marketplace.services.wallet import wallet_release
from pricing.quote import Quote

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


@transaction.atomic
def task_purchase(*, task: Task, user) -> Order:
    task = (
        Task.objects.select_for_update(of=("self",)).select_related("valuation_job").get(pk=task.pk)
    )
    if task.consumer_id != user.pk:
        raise PermissionDenied("this is not your task")
    if task.status == Task.Status.PURCHASED:
        raise Conflict("this task has already been purchased")
    if task.status != Task.Status.QUOTED:
        raise Conflict(f"the task is {task.status}; only a quoted task can be bought")
    offer = Quote.from_dict(task.quote["offer"])
    if not offer.sale:
        raise Conflict(f"there is nothing to buy: {offer.reason}")
    settlement = offer.settlement
    charge = settlement.charge_cents
    if charge > task.held_cents:
        raise Conflict("the quote exceeds the budget held for this task")
    reference = f"task:{task.pk}"
    order = Order.objects.create(
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
    datasets = Dataset.objects.select_related("owner").in_bulk([int(pid) for pid in offer.bundle])
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
            receipt=_receipt(task, order, dataset, offer, cents),
        )
    ledger_post(
        kind=JournalEntry.Kind.SETTLE,
        memo=f"order {order.pk}: settle {charge} cents",
        reference=reference,
        postings=postings,
    )
    wallet_release(user=user, amount_cents=task.held_cents - charge, reference=reference)
    for dataset in datasets.values():
        Entitlement.objects.create(user=user, dataset=dataset, order=order)
    Dataset.objects.filter(pk__in=datasets).update(sales_count=F("sales_count") + 1)
    task.status = Task.Status.PURCHASED
    task.held_cents = 0
    task.save(update_fields=["status", "held_cents", "updated_at"])
    audit_record(
        actor=user,
        action="order.purchase",
        obj=order,
        data={"charge_cents": charge, "datasets": sorted(datasets)},
    )
    return order
