"""A user's tasks, orders and payouts (nobody sees anyone else's)."""

from __future__ import annotations

from django.db.models import QuerySet

from marketplace.models import Dataset, Order, Payout, Task
from pricing.bundle import BundleChoice, choose_bundle
from valuation.core.chunking import UtilityTable


def task_list(*, user) -> QuerySet[Task]:
    return Task.objects.filter(consumer=user).select_related("valuation_job", "bundle_job")


def order_list(*, user) -> QuerySet[Order]:
    return Order.objects.filter(consumer=user).prefetch_related("payouts", "entitlements")


def payout_list(*, user) -> QuerySet[Payout]:
    return Payout.objects.filter(provider=user).select_related("dataset", "order")


def task_spend_curve(*, task: Task) -> BundleChoice | None:
    """What each level of spend buys on a quoted task: the lift-versus-price frontier of
    :func:`pricing.bundle.choose_bundle` over the bundle table's scores, each bundle priced
    with its members' payout-basis values (the split its sale would make).

    None when the task has no quote yet or no complete bundle table (more than ten
    candidates), since bundles could then only be priced from guesses.
    """
    job = task.bundle_job
    if task.quote is None or job is None or not job.utilities:
        return None
    table = UtilityTable.from_dict(job.utilities)
    if not table.is_complete():
        return None
    names = [str(name) for name in table.names]
    utilities = {
        frozenset(names[i] for i in coalition): score
        for coalition, score in table.coalition_utilities().items()
    }
    reserves = Dataset.objects.filter(pk__in=[int(n) for n in names]).values_list(
        "pk", "reserve_price_cents"
    )
    return choose_bundle(
        utilities,
        reserves={str(pk): cents for pk, cents in reserves},
        budget_cents=task.budget_cents,
        cents_per_point=task.value_per_point_cents,
        fee_bps=task.quote["offer"]["fee_bps"],
        values={str(c["dataset"]): c["value"] for c in task.quote["contributions"]},
        split="values",
    )
