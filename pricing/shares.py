"""Payout shares from measured contributions: who is paid, who is left out, and in what proportion.

A contribution is any value vector the engine produces for the providers of a bundle — Shapley
values by default, or least-core payoffs, Banzhaf values, … (the rule is a policy choice; this
module only needs numbers) — each with its standard error.

The rule, in order:

1. A provider is **harmful** when the upper end of its confidence interval,
   ``value + z * stderr``, is below zero: the data confidently lowers the consumer's metric.
2. A provider has **no contribution** when its value is ``<= 0`` but the interval reaches zero:
   there is no evidence it helps. With ``paid_z > 0`` a provider must also have a
   *measurable* contribution, ``value − paid_z * stderr > 0``, to be paid: a sampled value
   within its noise of zero is left out too. Paying every positive estimate would pay noise,
   and a seller who cuts worthless rows into many datasets would draw one lottery ticket per
   dataset (``benchmarks/manipulation.py`` measures it); requiring confidence makes the
   tickets nearly worthless.
3. Both are left out of the bundle and get nothing; nobody is ever billed for a negative value.
4. Everyone else gets the share ``value / sum(values)``, computed in exact fractions from the
   values quantised to :data:`~pricing.money.MEASUREMENT_DECIMALS` places. Equal values give
   exactly equal shares.
5. If nobody is left (every value ``<= 0``), there are no shares: there is no sale.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from pricing.money import MEASUREMENT_DECIMALS, check_cents, to_fraction

__all__ = [
    "BELOW_RESERVE",
    "DEFAULT_Z",
    "HARMFUL",
    "NO_CONTRIBUTION",
    "Contribution",
    "Shares",
    "contribution_shares",
]

#: Two-sided 95 % normal interval: the default width of a contribution's confidence interval.
DEFAULT_Z = 1.959963984540054

HARMFUL = "harmful"
NO_CONTRIBUTION = "no_contribution"
BELOW_RESERVE = "below_reserve"


@dataclass(frozen=True)
class Contribution:
    """One provider's measured contribution to a bundle.

    Parameters
    ----------
    provider_id : str
        Stable provider id; it also breaks rounding ties.
    value : float
        Contribution to the bundle's lift, in metric units (e.g. a Shapley value).
    stderr : float, default 0.0
        Standard error of ``value`` (>= 0).
    reserve_cents : int, default 0
        The least the provider accepts for this sale, in cents.
    """

    provider_id: str
    value: float
    stderr: float = 0.0
    reserve_cents: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.provider_id, str) or not self.provider_id:
            raise ValueError("provider_id must be a non-empty str")
        if not math.isfinite(self.value):
            raise ValueError(f"value of {self.provider_id!r} is not finite")
        if not math.isfinite(self.stderr) or self.stderr < 0:
            raise ValueError(f"stderr of {self.provider_id!r} must be finite and >= 0")
        check_cents(self.reserve_cents, f"reserve_cents of {self.provider_id!r}")

    def upper(self, z: float = DEFAULT_Z) -> float:
        """Upper end of the confidence interval, ``value + z * stderr``."""
        return self.value + z * self.stderr

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "provider_id": self.provider_id,
            "value": self.value,
            "stderr": self.stderr,
            "reserve_cents": self.reserve_cents,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Contribution:
        """Inverse of :meth:`to_dict`."""
        return cls(
            provider_id=data["provider_id"],
            value=float(data["value"]),
            stderr=float(data.get("stderr", 0.0)),
            reserve_cents=int(data.get("reserve_cents", 0)),
        )


@dataclass(frozen=True)
class Shares:
    """The outcome of :func:`contribution_shares`.

    Attributes
    ----------
    shares : dict of str to Fraction
        Exact shares of the included providers, in id order; they sum to 1, or the dict is
        empty when nobody contributes (no sale).
    excluded : dict of str to str
        Providers left out, with the reason (:data:`HARMFUL` or :data:`NO_CONTRIBUTION`).
    """

    shares: dict[str, Fraction] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)

    @property
    def sale_possible(self) -> bool:
        """Whether any provider has a positive share."""
        return bool(self.shares)


def check_unique(contributions: Iterable[Contribution]) -> dict[str, Contribution]:
    """Index contributions by provider id, rejecting duplicate ids."""
    by_id: dict[str, Contribution] = {}
    for c in contributions:
        if c.provider_id in by_id:
            raise ValueError(f"provider {c.provider_id!r} appears twice")
        by_id[c.provider_id] = c
    return by_id


def contribution_shares(
    contributions: Iterable[Contribution], *, z: float = DEFAULT_Z, paid_z: float = 0.0
) -> Shares:
    """Shares of the providers that help, and why the others are left out.

    Parameters
    ----------
    contributions : iterable of Contribution
        One per provider; ids must be unique. Input order does not matter.
    z : float, default 1.96
        Width of the confidence interval in standard errors (1.96 ≈ two-sided 95 %).
    paid_z : float, default 0.0
        A provider is paid only when ``value − paid_z * stderr > 0`` (0: any positive value).

    Returns
    -------
    Shares
    """
    for name, width in (("z", z), ("paid_z", paid_z)):
        if not math.isfinite(width) or width < 0:
            raise ValueError(f"{name} must be finite and >= 0")
    by_id = check_unique(contributions)
    weights: dict[str, Fraction] = {}
    excluded: dict[str, str] = {}
    for pid in sorted(by_id):
        c = by_id[pid]
        w = to_fraction(c.value, decimals=MEASUREMENT_DECIMALS)
        if w > 0 and c.value - paid_z * c.stderr > 0:
            weights[pid] = w
        elif c.upper(z) < 0:
            excluded[pid] = HARMFUL
        else:
            excluded[pid] = NO_CONTRIBUTION
    total = sum(weights.values(), Fraction(0))
    shares = {pid: w / total for pid, w in weights.items()}
    return Shares(shares=shares, excluded=excluded)
