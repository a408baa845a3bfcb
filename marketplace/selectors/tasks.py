"""A user's tasks, orders and payouts (nobody sees anyone else's)."""

from __future__ import annotations

from django.db.models import QuerySet

from marketplace.models import Order, Payout, Task


def task_list(*, user) -> QuerySet[Task]:
    return Task.objects.filter(consumer=user).select_related("valuation_job")


def order_list(*, user) -> QuerySet[Order]:
    return Order.objects.filter(consumer=user).prefetch_related("payouts", "entitlements")


def payout_list(*, user) -> QuerySet[Payout]:
    return Payout.objects.filter(provider=user).select_related("dataset", "order")
