"""``{% load datafair %}``: the number formats of the web pages (money, points, waits)."""

from django import template

from marketplace.web import formatting
from valuation.core.catalog import METRIC_LABELS, MODEL_LABELS

register = template.Library()


@register.filter
def money(cents) -> str:
    """Integer cents as currency: ``{{ order.price_cents|money }}``."""
    return "" if cents in (None, "") else formatting.money(int(cents))


@register.filter
def signed_money(cents) -> str:
    """Integer cents as currency with a sign, for statements."""
    return "" if cents in (None, "") else formatting.money(int(cents), signed=True)


@register.filter
def points(value) -> str:
    """A metric difference in points (0.01 of the metric), signed."""
    return "" if value in (None, "") else formatting.points(float(value))


@register.filter
def wait(seconds) -> str:
    """Remaining time in words."""
    return formatting.wait(None if seconds in (None, "") else float(seconds))


@register.filter
def cell(value) -> str:
    """A data preview cell."""
    return formatting.cell(value)


@register.filter
def share(exact) -> str:
    """An exact ``"numerator/denominator"`` share as a percentage."""
    return "" if exact in (None, "") else formatting.share(str(exact))


@register.filter
def percent(fraction) -> str:
    """``0.125`` → ``"12.5%"``."""
    return "" if fraction in (None, "") else f"{float(fraction) * 100:.3g}%"


@register.filter
def model_name(name) -> str:
    """A catalogue model's name as people read it (``knn`` → ``k-nearest neighbours``)."""
    return MODEL_LABELS.get(name, name)


@register.filter
def metric_name(name) -> str:
    """A catalogue metric's name as people read it (``r2`` → ``R²``)."""
    return METRIC_LABELS.get(name, name)
