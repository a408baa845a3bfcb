"""Payout shares from measured contributions: who is paid, who is left out, and in what proportion.

A contribution is any value vector the engine produces for the providers of a bundle — Shapley
values by default, or least-core payoffs, Banzhaf values, … (the rule is a policy choice; this
module only needs numbers) — each with its standard error.

The rule, in order:

1. A provider is **harmful** when the upper end of its confidence interval,
   ``value + z * stderr``, is below zero: the data confidently lowers the consumer's metric.
2. A provider has **no contribution** when its value is ``<= 0`` but the interval reaches zero:
   there is no evidence it helps. With ``paid_fdr < 1`` a provider must also have a
   *measurable* contribution to be paid: its value must be a discovery of the
   Benjamini–Hochberg procedure at false-discovery rate ``paid_fdr``, run over the one-sided
   p-values (:meth:`Contribution.p_value`) of all the providers judged together. Paying every
   positive estimate would pay noise, and a seller who cuts worthless rows into many
   datasets would draw one lottery ticket per dataset (``benchmarks/manipulation.py``
   measures it). A fixed bar per dataset (``value > 1.96 stderr``) still pays a few tickets
   when there are many; controlling the false discoveries among all of them makes the bar
   rise with the number of tickets. (The values of one bundle come from the same draws, so
   they are not independent tests and the rate is a target, not a guarantee; the benchmark
   measures what is left.) The procedure is idempotent on what it discovers, so
   judging the paid providers again leaves them all paid.
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

from scipy.stats import false_discovery_control

from pricing.money import MEASUREMENT_DECIMALS, check_cents, to_fraction

__all__ = [
    "BELOW_RESERVE",
    "DEFAULT_Z",
    "HARMFUL",
    "NO_CONTRIBUTION",
    "Contribution",
    "Shares",
    "contribution_shares",
    "measurable",
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

    def p_value(self) -> float:
        """One-sided p-value of "this provider adds nothing": the chance that a value at
        least this large is measured when the true value is zero (normal errors). An exact
        value (``stderr`` 0) has p 0 when it is positive and 1 otherwise."""
        if self.stderr == 0:
            return 0.0 if self.value > 0 else 1.0
        return 0.5 * math.erfc(self.value / (self.stderr * math.sqrt(2)))

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


def measurable(contributions: Iterable[Contribution], fdr: float) -> frozenset[str]:
    """Providers whose positive value is a discovery at false-discovery rate ``fdr``.

    Benjamini–Hochberg over every provider's :meth:`Contribution.p_value` (the providers
    with a value ``<= 0`` count among the tests): sorted ``p_(1) <= … <= p_(n)``, the
    discoveries are the ``k`` smallest for the largest ``k`` with ``p_(k) <= k · fdr / n``.
    ``fdr`` 1 makes every positive value measurable.
    """
    if not (math.isfinite(fdr) and 0 < fdr <= 1):
        raise ValueError(f"the false-discovery rate must be in (0, 1], got {fdr!r}")
    by_id = check_unique(contributions)
    if not by_id:
        return frozenset()
    ids = sorted(by_id)
    adjusted = false_discovery_control([by_id[pid].p_value() for pid in ids], method="bh")
    return frozenset(pid for pid, p in zip(ids, adjusted) if by_id[pid].value > 0 and p <= fdr)


def contribution_shares(
    contributions: Iterable[Contribution], *, z: float = DEFAULT_Z, paid_fdr: float = 1.0
) -> Shares:
    """Shares of the providers that help, and why the others are left out.

    Parameters
    ----------
    contributions : iterable of Contribution
        One per provider; ids must be unique. Input order does not matter.
    z : float, default 1.96
        Width of the confidence interval in standard errors (1.96 ≈ two-sided 95 %).
    paid_fdr : float, default 1.0
        A provider is paid only when its value is :func:`measurable` at this false-discovery
        rate (1: any positive value).

    Returns
    -------
    Shares
    """
    if not math.isfinite(z) or z < 0:
        raise ValueError("z must be finite and >= 0")
    by_id = check_unique(contributions)
    paid = measurable(by_id.values(), paid_fdr)
    weights: dict[str, Fraction] = {}
    excluded: dict[str, str] = {}
    for pid in sorted(by_id):
        c = by_id[pid]
        w = to_fraction(c.value, decimals=MEASUREMENT_DECIMALS)
        if w > 0 and pid in paid:
            weights[pid] = w
        elif c.upper(z) < 0:
            excluded[pid] = HARMFUL
        else:
            excluded[pid] = NO_CONTRIBUTION
    total = sum(weights.values(), Fraction(0))
    shares = {pid: w / total for pid, w in weights.items()}
    return Shares(shares=shares, excluded=excluded)
