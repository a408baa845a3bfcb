"""How numbers read on the pages: money from integer cents, metric lifts in points, waits,
and preview cells. Pure functions, registered as template filters in
:mod:`marketplace.templatetags.datafair`."""

from __future__ import annotations

import math
import re
from fractions import Fraction
from numbers import Integral, Real

CURRENCY_SYMBOL = "$"
MINUS = "\u2212"  # a real minus sign: same width as the plus, read correctly by screen readers

_CENTS_IN_TEXT = re.compile(r"(?<![\d.,])(\d{1,3}(?:,\d{3})+|\d+) cents\b")
_BARE_AMOUNT = re.compile(r"(?<![\d.,])(\d{1,3}(?:,\d{3})+|\d+)(?![\d.,]*%)")


def money(cents: int, *, signed: bool = False) -> str:
    """``1234`` → ``"$12.34"``; negative amounts get a minus sign, ``signed`` adds a plus."""
    if isinstance(cents, bool) or not isinstance(cents, Integral):
        raise TypeError(f"money is integer cents, got {cents!r}")
    whole, rest = divmod(abs(int(cents)), 100)
    sign = MINUS if cents < 0 else ("+" if signed and cents > 0 else "")
    return f"{sign}{CURRENCY_SYMBOL}{whole:,}.{rest:02d}"


def money_in_text(text: str, *, all_amounts: bool = False) -> str:
    """Rewrite the ``"1,234 cents"`` of a pricing explanation line as currency; with
    ``all_amounts`` (lines of :data:`pricing.explanation.ALL_AMOUNTS`) every bare number."""

    def amount(match: re.Match) -> str:
        return money(int(match.group(1).replace(",", "")))

    if all_amounts:
        return _BARE_AMOUNT.sub(amount, text).replace(" cents", "")
    return _CENTS_IN_TEXT.sub(amount, text)


def points(value: float, *, decimals: int = 2) -> str:
    """A metric difference in points (0.01 of the metric), signed: ``0.0758`` → ``"+7.58"``."""
    shown = round(value * 100, decimals)
    if shown == 0:
        return f"{0:.{decimals}f}"
    sign = "+" if shown > 0 else MINUS
    return f"{sign}{abs(shown):.{decimals}f}"


def wait(seconds: float | None) -> str:
    """A rough remaining time: ``"about 40 s"``, ``"about 3 min"``."""
    if seconds is None or not math.isfinite(seconds):
        return "estimating…"
    if seconds < 10:
        return "a few seconds"
    if seconds < 90:
        return f"about {5 * round(seconds / 5)} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def share(exact: str) -> str:
    """An exact share ``"numerator/denominator"`` as a percentage: ``"3/8"`` → ``"37.50%"``."""
    return f"{float(Fraction(exact)) * 100:.2f}%"


def cell(value) -> str:
    """A preview cell: floats to four significant digits, everything else as written."""
    if isinstance(value, bool) or not isinstance(value, Real) or isinstance(value, Integral):
        return "" if value is None else str(value)
    return f"{value:.4g}"


def sentence(message: str) -> str:
    """Capitalise a service message's first word when it is an ordinary word (not a file
    name like ``data.csv`` or a quoted name)."""
    if re.match(r"[a-z]+(?=[\s,;:])", message):
        return message[0].upper() + message[1:]
    return message
