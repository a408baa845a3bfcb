"""Money arithmetic in integer minor units (cents): exact fractions, fees and to-the-cent splits.

No float ever becomes a cent amount directly. Measured quantities (metric lifts, contribution
values, penalty factors) arrive as floats; they are turned into exact ``Fraction`` objects
first, either bit-for-bit or quantised to a fixed number of decimal places, and every cent
amount is then an integer computed from fractions.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from decimal import Decimal
from fractions import Fraction
from numbers import Rational
from typing import TypeVar

__all__ = [
    "BPS_PER_UNIT",
    "MAX_AMOUNT_CENTS",
    "MEASUREMENT_DECIMALS",
    "check_bps",
    "check_cents",
    "fee",
    "largest_remainder",
    "to_fraction",
]

#: Basis points in one whole: 10 000 bps = 100 %.
BPS_PER_UNIT = 10_000

#: Decimal places kept when a measured float meets money. float64 carries about 16
#: significant digits; a metric or a contribution value is never resolved to better than
#: 1e-12, so rounding there removes only binary representation noise (0.29 is stored as
#: 0.28999999999999998; quantised it is exactly 29/100 and cannot lose a cent to floor()).
MEASUREMENT_DECIMALS = 12

#: The largest amount one field may carry (a reserve, a budget, a value per point): 100
#: million in major units. Far below PostgreSQL's bigint (9.2e18), so the sums the ledger and
#: the pricing make of many such amounts stay exact and storable.
MAX_AMOUNT_CENTS = 10**10

K = TypeVar("K", bound=Hashable)
Number = int | float | Fraction | Decimal | str


def to_fraction(x: Number, *, decimals: int | None = None) -> Fraction:
    """Convert a number to an exact ``Fraction``.

    Parameters
    ----------
    x : int, float, Fraction, Decimal or str
        The number. A float is taken bit-for-bit (``Fraction(0.1)`` is the binary value
        0.1000000000000000055…); a string or ``Decimal`` is taken as the decimal it spells.
    decimals : int or None, default None
        When given, round the exact value half-to-even to this many decimal places. The
        rounding starts from the exact binary value of a float, so it is deterministic.

    Returns
    -------
    Fraction

    Raises
    ------
    ValueError
        If ``x`` is not finite (NaN or infinity) or is a bool.
    """
    if isinstance(x, bool):
        raise ValueError("a bool is not a number here")
    if isinstance(x, float) and not math.isfinite(x):
        raise ValueError(f"not a finite number: {x!r}")
    if isinstance(x, Decimal | str):
        d = Decimal(x)
        if not d.is_finite():
            raise ValueError(f"not a finite number: {x!r}")
        exact = Fraction(d)
    elif isinstance(x, Rational):
        exact = Fraction(x)
    else:
        exact = Fraction(float(x))
    if decimals is None:
        return exact
    quantum = Fraction(1, 10**decimals)
    # Fraction.__round__ rounds half to even, exactly.
    return round(exact / quantum) * quantum


def check_cents(amount: int, name: str = "amount") -> int:
    """Validate a cent amount: a non-negative ``int`` (bools rejected).

    Parameters
    ----------
    amount : int
        The amount in cents.
    name : str, default "amount"
        What the amount is, for the error message.

    Returns
    -------
    int
        ``amount`` unchanged.
    """
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"{name} must be an int number of cents, got {type(amount).__name__}")
    if amount < 0:
        raise ValueError(f"{name} must be >= 0 cents, got {amount}")
    return amount


def check_bps(bps: int, name: str = "bps") -> int:
    """Validate a rate in basis points: an ``int`` in 0..10 000 (bools rejected)."""
    if isinstance(bps, bool) or not isinstance(bps, int):
        raise TypeError(f"{name} must be an int number of basis points")
    if not 0 <= bps <= BPS_PER_UNIT:
        raise ValueError(f"{name} must lie in 0..{BPS_PER_UNIT}, got {bps}")
    return bps


def fee(amount_cents: int, bps: int) -> int:
    """Platform fee on an amount, rounded down to the cent.

    Parameters
    ----------
    amount_cents : int
        The amount the fee is taken from, in cents (>= 0).
    bps : int
        Fee rate in basis points, 0..10 000 (250 = 2.5 %).

    Returns
    -------
    int
        ``floor(amount_cents * bps / 10 000)``, so ``fee <= amount * bps / 1e4 < fee + 1``.
    """
    check_cents(amount_cents, "amount_cents")
    return amount_cents * check_bps(bps) // BPS_PER_UNIT


def largest_remainder(pool_cents: int, weights: Mapping[K, Number]) -> dict[K, int]:
    """Split a pool of cents in proportion to weights, exactly (Hamilton's method).

    Each party first gets the floor of its exact quota ``pool * w / sum(w)``; the cents left
    over go one each to the parties with the largest fractional parts. Ties between equal
    fractional parts go to the smaller key (a stable provider id), never to input order.

    Parameters
    ----------
    pool_cents : int
        The amount to split, in cents (>= 0).
    weights : mapping of key to number
        Non-negative weights (shares, values, …), converted exactly with :func:`to_fraction`
        (no quantisation: quantise upstream if the weights are measurements). Keys must be
        mutually orderable (e.g. all ``str``).

    Returns
    -------
    dict
        Cents per key, in key order. The parts sum to ``pool_cents`` exactly, each part
        differs from its exact quota by less than one cent, and a zero weight gets 0.

    Raises
    ------
    ValueError
        If a weight is negative or not finite, or no weight is positive.
    """
    check_cents(pool_cents, "pool_cents")
    exact = {key: to_fraction(w) for key, w in weights.items()}
    if any(w < 0 for w in exact.values()):
        raise ValueError("weights must be >= 0")
    total = sum(exact.values(), Fraction(0))
    if total == 0:
        raise ValueError("no positive weight: there is nothing to split by")
    keys = sorted(exact)
    quotas = {key: pool_cents * exact[key] / total for key in keys}
    parts = {key: math.floor(quotas[key]) for key in keys}
    left = pool_cents - sum(parts.values())
    # sorted() is stable and keys are already in id order, so equal remainders keep id order.
    by_remainder = sorted(keys, key=lambda key: quotas[key] - parts[key], reverse=True)
    for key in by_remainder[:left]:
        parts[key] += 1
    return parts
