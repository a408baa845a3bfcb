"""Lift pricing: from measured contributions to a quote a consumer can accept, to the cent.

The default policy, "lift pricing":

1. **Prune.** Providers whose data is harmful or contributes nothing are left out
   (:mod:`pricing.shares`) and the reduced bundle is re-valued.
2. **Price.** The consumer pays for the lift they can be confident in: the lower end of the
   lift's interval × their value per point (cents per 0.01 of the metric), rounded down, and
   never more than their budget. A lower end ``<= 0`` means nothing is worth buying.
3. **Split.** The platform fee is taken (rounded down), the pool is split by exact shares with
   the largest-remainder method, optionally after the Shapley-Robust replication penalty, whose
   remainder goes to a named destination (:mod:`pricing.settlement`).
4. **Reserves.** If a provider's payout is below its reserve, the provider furthest below it
   (smallest payout/reserve ratio, ties by id) is dropped, the bundle re-valued and everything
   re-priced; this repeats until every payout clears its reserve or nobody is left.

Re-valuation is the app's job: pass ``revalue(bundle) -> BundleValuation`` (with exact
enumeration the sub-game's values come from cached coalition utilities at no cost). Without it
the remaining providers keep their values and the lift interval is lowered by the positive
values of the providers dropped — Shapley efficiency, read conservatively (dropping a harmful
provider never raises the lift).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from pricing.explanation import Line
from pricing.lift import Lift
from pricing.money import MEASUREMENT_DECIMALS, check_bps, check_cents, to_fraction
from pricing.replication import LOG2, Similarity, penalty_factors, similarity_sums
from pricing.settlement import (
    CONSUMER,
    PENALTY_DESTINATIONS,
    Destination,
    Settlement,
    settle,
)
from pricing.shares import (
    BELOW_RESERVE,
    DEFAULT_Z,
    HARMFUL,
    NO_CONTRIBUTION,
    Contribution,
    check_unique,
    contribution_shares,
)

__all__ = [
    "BASES",
    "LIFT_PRICING",
    "QUOTE_VERSION",
    "ROW_BASIS",
    "BundleValuation",
    "Line",
    "Quote",
    "lift_value_cents",
    "quote",
]

LIFT_PRICING = "lift"
#: The layout of :meth:`Quote.to_dict`; stored quotes of older versions are migrated
#: (version 2: the explanation became keyed :class:`~pricing.explanation.Line` records).
QUOTE_VERSION = 2

#: Contributions that are sums of row-level values computed without reading who owns a row
#: (``valuation.core.methods.rows``): no split, merge or relabelling of owners moves them.
ROW_BASIS = "row_shapley"

#: What the contribution values are; only the explanation wording depends on it.
BASES = {
    "shapley": "Shapley value",
    "least_core": "least-core payoff",
    ROW_BASIS: "its rows' Shapley values",
}


@dataclass(frozen=True)
class BundleValuation:
    """The engine's measurement of one bundle: per-provider contributions and the bundle's lift.

    Parameters
    ----------
    contributions : tuple of Contribution
        One per provider of the bundle.
    lift : Lift
        Lift of baseline ∪ bundle over the baseline, with its interval.
    """

    contributions: tuple[Contribution, ...]
    lift: Lift

    def __post_init__(self) -> None:
        object.__setattr__(self, "contributions", tuple(self.contributions))
        check_unique(self.contributions)

    @property
    def provider_ids(self) -> frozenset[str]:
        """The bundle's provider ids."""
        return frozenset(c.provider_id for c in self.contributions)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "contributions": [c.to_dict() for c in self.contributions],
            "lift": self.lift.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BundleValuation:
        """Inverse of :meth:`to_dict`."""
        return cls(
            contributions=tuple(Contribution.from_dict(c) for c in data["contributions"]),
            lift=Lift.from_dict(data["lift"]),
        )


Revalue = Callable[[frozenset[str]], BundleValuation]


@dataclass(frozen=True)
class Quote:
    """A priced offer, or the reason there is none, with every cent explained.

    Attributes
    ----------
    sale : bool
        Whether a bundle is worth buying.
    reason : str
        Why there is no sale ("" when there is one).
    bundle : tuple of str
        Provider ids offered, in id order.
    lift : Lift or None
        Lift of the offered bundle (None when no bundle is left).
    budget_cents, cents_per_point, fee_bps : int
        The inputs the price was computed from.
    value_cents : int
        Worth of the confident lift (its lower end) to the consumer, before the budget cap.
    settlement : Settlement
        Charge, fee, payouts, withheld money and refund; all zero when there is no sale.
    shares : dict of str to Fraction
        The exact shares the pool was split by (after any replication penalty).
    excluded : dict of str to str
        Providers left out and why (``harmful``, ``no_contribution``, ``below_reserve``).
    basis : str
        What the contribution values are (``shapley`` or ``least_core``).
    revaluations : int
        How many times the bundle was re-valued by the ``revalue`` callback.
    explanation : tuple of Line
        One plain-language line per number, keyed by what it explains
        (:mod:`pricing.explanation`).
    policy : str
        The pricing policy, ``"lift"``.
    """

    sale: bool
    reason: str
    bundle: tuple[str, ...]
    lift: Lift | None
    budget_cents: int
    cents_per_point: int
    fee_bps: int
    value_cents: int
    settlement: Settlement
    shares: dict[str, Fraction] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)
    basis: str = "shapley"
    revaluations: int = 0
    explanation: tuple[Line, ...] = ()
    policy: str = LIFT_PRICING

    @property
    def charge_cents(self) -> int:
        """The amount captured from the consumer."""
        return self.settlement.charge_cents

    @property
    def fee_cents(self) -> int:
        """The platform fee."""
        return self.settlement.fee_cents

    @property
    def payouts(self) -> dict[str, int]:
        """Cents per provider of the bundle."""
        return self.settlement.payouts

    @property
    def withheld_cents(self) -> int:
        """Cents kept in the platform's replication reserve."""
        return self.settlement.withheld_cents

    @property
    def refund_cents(self) -> int:
        """Cents returned to the consumer."""
        return self.settlement.refund_cents

    @property
    def net_charge_cents(self) -> int:
        """What the consumer pays in the end."""
        return self.settlement.net_charge_cents

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; shares are written as exact ``"numerator/denominator"`` strings."""
        return {
            "version": QUOTE_VERSION,
            "policy": self.policy,
            "sale": self.sale,
            "reason": self.reason,
            "bundle": list(self.bundle),
            "lift": None if self.lift is None else self.lift.to_dict(),
            "budget_cents": self.budget_cents,
            "cents_per_point": self.cents_per_point,
            "fee_bps": self.fee_bps,
            "value_cents": self.value_cents,
            "settlement": self.settlement.to_dict(),
            "shares": {pid: str(s) for pid, s in self.shares.items()},
            "excluded": dict(self.excluded),
            "basis": self.basis,
            "revaluations": self.revaluations,
            "explanation": [line.to_dict() for line in self.explanation],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Quote:
        """Inverse of :meth:`to_dict`; refuses another version (migrate stored quotes)."""
        version = data.get("version", 1)
        if version != QUOTE_VERSION:
            raise ValueError(f"a version {version} quote; this code reads version {QUOTE_VERSION}")
        return cls(
            policy=str(data["policy"]),
            sale=bool(data["sale"]),
            reason=str(data["reason"]),
            bundle=tuple(data["bundle"]),
            lift=None if data["lift"] is None else Lift.from_dict(data["lift"]),
            budget_cents=int(data["budget_cents"]),
            cents_per_point=int(data["cents_per_point"]),
            fee_bps=int(data["fee_bps"]),
            value_cents=int(data["value_cents"]),
            settlement=Settlement.from_dict(data["settlement"]),
            shares={pid: Fraction(s) for pid, s in data["shares"].items()},
            excluded=dict(data["excluded"]),
            basis=str(data["basis"]),
            revaluations=int(data["revaluations"]),
            explanation=tuple(Line.from_dict(line) for line in data["explanation"]),
        )


def lift_value_cents(lift: float, cents_per_point: int) -> int:
    """Worth of a lift to the consumer, in cents, rounded down (0 for a lift ``<= 0``).

    Parameters
    ----------
    lift : float
        Lift in metric units (0.01 = one point); quantised to
        :data:`~pricing.money.MEASUREMENT_DECIMALS` places before it meets money.
    cents_per_point : int
        The consumer's value of one point (0.01 of the metric), in cents.
    """
    check_cents(cents_per_point, "cents_per_point")
    exact = to_fraction(lift, decimals=MEASUREMENT_DECIMALS)
    return max(0, math.floor(exact * 100 * cents_per_point))


def _reduced(
    current: BundleValuation, bundle: frozenset[str], revalue: Revalue | None
) -> BundleValuation:
    if revalue is not None:
        result = revalue(bundle)
        if result.provider_ids != bundle:
            raise ValueError("revalue(bundle) must return one contribution per bundle member")
        return result
    kept = tuple(c for c in current.contributions if c.provider_id in bundle)
    dropped = (c for c in current.contributions if c.provider_id not in bundle)
    lost = math.fsum(max(c.value, 0.0) for c in dropped)
    return BundleValuation(contributions=kept, lift=current.lift.shifted(-lost))


def _fmt_cents(n: int) -> str:
    return f"{n:,} cents"


def _fmt_points(lift: float) -> str:
    return f"{lift * 100:.2f} points"


def _fmt_pct(x: Fraction) -> str:
    return f"{float(x) * 100:.2f}%"


def _exclusion_lines(
    excluded: Mapping[str, str],
    judged: Mapping[str, Contribution],
    original: Mapping[str, Contribution],
    payouts_seen: Mapping[str, int],
    z: float,
    names: Mapping[str, str],
    paid_fdr: float = 1.0,
) -> list[Line]:
    lines = []
    for pid in sorted(excluded):
        c = judged[pid]
        numbers: dict[str, float] = {"value": c.value}
        if excluded[pid] == HARMFUL:
            text = (
                f"its data lowers your metric (value {c.value:+.4f}, interval reaching only "
                f"{c.upper(z):+.4f}); it is not sold to you and its provider is not paid."
            )
            numbers["upper"] = c.upper(z)
        elif excluded[pid] == NO_CONTRIBUTION:
            noise = (
                f" ± {c.stderr:.4f}: noise alone gives as much with probability "
                f"{c.p_value():.2f}, and values are paid at a false-discovery rate of "
                f"{paid_fdr:.0%}"
                if c.value > 0
                else ""
            )
            text = (
                f"no measurable contribution (value {c.value:+.4f}{noise}); it is not sold to "
                "you and its provider is not paid."
            )
            numbers["stderr"] = c.stderr
        else:
            text = (
                f"at this price its payout ({_fmt_cents(payouts_seen[pid])}) would be below "
                f"its reserve ({_fmt_cents(original[pid].reserve_cents)})."
            )
            numbers = {
                "payout_cents": payouts_seen[pid],
                "reserve_cents": original[pid].reserve_cents,
            }
        heading = f"Left out {names.get(pid, pid)}"
        lines.append(Line("left_out", heading, text, provider=pid, numbers=numbers))
    return lines


def _no_sale(
    reason: str,
    *,
    bundle: frozenset[str],
    lift: Lift | None,
    budget_cents: int,
    cents_per_point: int,
    fee_bps: int,
    value_cents: int,
    excluded: dict[str, str],
    basis: str,
    revaluations: int,
    exclusion_lines: list[Line],
) -> Quote:
    return Quote(
        sale=False,
        reason=reason,
        bundle=tuple(sorted(bundle)),
        lift=lift,
        budget_cents=budget_cents,
        cents_per_point=cents_per_point,
        fee_bps=fee_bps,
        value_cents=value_cents,
        settlement=Settlement(charge_cents=0, fee_bps=fee_bps, fee_cents=0),
        excluded=dict(sorted(excluded.items())),
        basis=basis,
        revaluations=revaluations,
        explanation=(
            *exclusion_lines,
            Line("no_sale", "No sale", f"{reason}. You are charged nothing."),
        ),
    )


def quote(
    valuation: BundleValuation,
    *,
    budget_cents: int,
    cents_per_point: int,
    fee_bps: int,
    revalue: Revalue | None = None,
    similarity: Similarity | None = None,
    penalty_lambda: float = LOG2,
    penalty_destination: Destination = CONSUMER,
    z: float = DEFAULT_Z,
    paid_fdr: float = 1.0,
    basis: str = "shapley",
    basis_metric: str | None = None,
    names: Mapping[str, str] | None = None,
) -> Quote:
    """Price a bundle with lift pricing and split the charge to the cent.

    Parameters
    ----------
    valuation : BundleValuation
        Contributions of the candidate providers (with their reserves) and the lift of the
        full candidate bundle. Reserves are read from here, also after re-valuation.
    budget_cents : int
        The consumer's budget; the charge never exceeds it.
    cents_per_point : int
        The consumer's value of one point of lift (0.01 of the metric), in cents.
    fee_bps : int
        Platform fee, basis points of the charge (0..10 000).
    revalue : callable or None, default None
        ``revalue(bundle) -> BundleValuation`` for a reduced bundle (a frozenset of provider
        ids). Called whenever providers are dropped. None: see the module docstring.
    similarity : Similarity or None, default None
        Pairwise data similarity in [0, 1]; when given, shares get the Shapley-Robust penalty.
    penalty_lambda : float, default log 2
        Rate of the replication penalty.
    penalty_destination : {"consumer", "platform_reserve"}, default "consumer"
        Who receives the money the penalty withholds: a refund to the consumer, or the
        platform's replication reserve account.
    z : float, default 1.96
        Width, in standard errors, of a contribution's interval for the "harmful" test.
    paid_fdr : float, default 1.0
        A provider is paid only for a measurable contribution: a discovery at this
        false-discovery rate among the providers judged (see
        :func:`pricing.shares.measurable`); 1 pays any positive value.
    basis : {"shapley", "least_core", "row_shapley"}, default "shapley"
        What the contribution values are: shares follow any value vector, so least-core
        payoffs (computed by the engine) give least-core payouts, and sums of row-level
        Shapley values give a split that no regrouping of rows into providers moves
        (the explanation then says why).
    basis_metric : str or None, default None
        The metric the contribution values are measured on, for the explanation (the price
        is always on the lift's metric).
    names : mapping of str to str or None, default None
        Display names of providers for the explanation (e.g. dataset titles); ids otherwise.

    Returns
    -------
    Quote
    """
    check_cents(budget_cents, "budget_cents")
    check_cents(cents_per_point, "cents_per_point")
    check_bps(fee_bps, "fee_bps")
    if basis not in BASES:
        raise ValueError(f"basis must be one of {sorted(BASES)}")
    if penalty_destination not in PENALTY_DESTINATIONS:
        raise ValueError(f"penalty_destination must be one of {PENALTY_DESTINATIONS}")

    names = dict(names or {})
    original = check_unique(valuation.contributions)
    current = valuation
    bundle = valuation.provider_ids
    excluded: dict[str, str] = {}
    judged: dict[str, Contribution] = {}
    payouts_seen: dict[str, int] = {}
    revaluations = 0

    def no_sale(reason: str, lift: Lift | None, value_cents: int = 0) -> Quote:
        return _no_sale(
            reason,
            bundle=bundle,
            lift=lift,
            budget_cents=budget_cents,
            cents_per_point=cents_per_point,
            fee_bps=fee_bps,
            value_cents=value_cents,
            excluded=excluded,
            basis=basis,
            revaluations=revaluations,
            exclusion_lines=_exclusion_lines(
                excluded, judged, original, payouts_seen, z, names, paid_fdr
            ),
        )

    def drop(reasons: Mapping[str, str]) -> None:
        nonlocal bundle, current, revaluations
        at_exclusion = check_unique(current.contributions)
        for pid, why in reasons.items():
            excluded[pid] = why
            # The explanation quotes the value the provider was judged on.
            judged[pid] = at_exclusion[pid]
        bundle = bundle - set(reasons)
        if bundle:
            current = _reduced(current, bundle, revalue)
            if revalue is not None:
                revaluations += 1

    if not bundle:
        return no_sale("there are no candidate providers", None)
    # Each pass either returns or drops at least one provider, so this ends.
    while True:
        shares = contribution_shares(current.contributions, z=z, paid_fdr=paid_fdr)
        if shares.excluded:
            drop(shares.excluded)
            if not bundle:
                return no_sale("no provider's data improves your task", None)
            continue
        lift = current.lift
        if lift.lower <= 0:
            return no_sale(
                f"the lift's lower bound ({_fmt_points(lift.lower)}) is not above zero, "
                "so no lift can be promised",
                lift,
            )
        value_cents = lift_value_cents(lift.lower, cents_per_point)
        charge = min(budget_cents, value_cents)
        if charge == 0:
            return no_sale("the lift you can be confident in is worth less than one cent", lift)
        if similarity is not None:
            factors = penalty_factors(shares.shares, similarity, lam=penalty_lambda)
        else:
            factors = {pid: Fraction(1) for pid in shares.shares}
        paid = {pid: shares.shares[pid] * factors[pid] for pid in shares.shares}
        settlement = settle(charge, paid, fee_bps=fee_bps, penalty_destination=penalty_destination)
        short = [pid for pid in paid if settlement.payouts[pid] < original[pid].reserve_cents]
        if short:
            worst = min(
                short,
                key=lambda pid: (
                    Fraction(settlement.payouts[pid], original[pid].reserve_cents),
                    pid,
                ),
            )
            payouts_seen[worst] = settlement.payouts[worst]
            drop({worst: BELOW_RESERVE})
            if not bundle:
                return no_sale(
                    f"no provider's reserve can be met at {_fmt_cents(charge)}, the lesser of "
                    "your budget and the worth of the confident lift",
                    None,
                    value_cents,
                )
            continue
        break

    sums = similarity_sums(paid, similarity) if similarity is not None else {}
    lines = _exclusion_lines(excluded, judged, original, payouts_seen, z, names, paid_fdr)
    lines += _sale_lines(
        current=current,
        shares=shares.shares,
        factors=factors,
        sums=sums,
        paid=paid,
        settlement=settlement,
        value_cents=value_cents,
        budget_cents=budget_cents,
        cents_per_point=cents_per_point,
        reserves={pid: original[pid].reserve_cents for pid in paid},
        basis=basis,
        basis_metric=basis_metric,
        names=names,
    )
    return Quote(
        sale=True,
        reason="",
        bundle=tuple(sorted(bundle)),
        lift=lift,
        budget_cents=budget_cents,
        cents_per_point=cents_per_point,
        fee_bps=fee_bps,
        value_cents=value_cents,
        settlement=settlement,
        shares=paid,
        excluded=dict(sorted(excluded.items())),
        basis=basis,
        revaluations=revaluations,
        explanation=tuple(lines),
    )


def _sale_lines(
    *,
    current: BundleValuation,
    shares: Mapping[str, Fraction],
    factors: Mapping[str, Fraction],
    sums: Mapping[str, float],
    paid: Mapping[str, Fraction],
    settlement: Settlement,
    value_cents: int,
    budget_cents: int,
    cents_per_point: int,
    reserves: Mapping[str, int],
    basis: str,
    basis_metric: str | None,
    names: Mapping[str, str],
) -> list[Line]:
    lift = current.lift
    values = {c.provider_id: c.value for c in current.contributions}
    charge, fee_cents, pool = settlement.charge_cents, settlement.fee_cents, settlement.pool_cents
    conf = f"{lift.confidence * 100:g}%"
    lines = [
        Line("bundle", "Bundle", f"{', '.join(names.get(pid, pid) for pid in sorted(paid))}."),
        Line(
            "lift",
            "Lift",
            f"{_fmt_points(lift.estimate)} over your baseline ({conf} interval "
            f"{_fmt_points(lift.lower)} to {_fmt_points(lift.upper)}).",
            numbers=lift.to_dict(),
        ),
        Line(
            "worth",
            "Worth",
            "you pay only for the lift you can be confident in, the interval's lower end: "
            f"{_fmt_points(lift.lower)} × {_fmt_cents(cents_per_point)} per point = "
            f"{_fmt_cents(value_cents)} (rounded down).",
            numbers={"value_cents": value_cents, "cents_per_point": cents_per_point},
        ),
    ]
    price = {"charge_cents": charge, "budget_cents": budget_cents}
    if charge < value_cents:
        lines.append(
            Line("price", "Price", f"{_fmt_cents(charge)}, capped at your budget.", numbers=price)
        )
    else:
        lines.append(
            Line(
                "price",
                "Price",
                f"{_fmt_cents(charge)}, within your budget of {_fmt_cents(budget_cents)}.",
                numbers=price,
            )
        )
    lines += [
        Line(
            "fee",
            "Platform fee",
            f"{settlement.fee_bps / 100:g}% of {_fmt_cents(charge)}, rounded down: "
            f"{_fmt_cents(fee_cents)}.",
            numbers={"fee_cents": fee_cents, "fee_bps": settlement.fee_bps},
        ),
        Line(
            "pool",
            "Provider pool",
            f"{charge:,} − {fee_cents:,} = {_fmt_cents(pool)}, split by share to the cent "
            "(largest remainder; ties by provider id).",
            numbers={"pool_cents": pool},
        ),
    ]
    if basis == ROW_BASIS:
        measured = f" (on {basis_metric})" if basis_metric else ""
        lines.append(
            Line(
                "split",
                "Split",
                "a dataset's share is the sum of the Shapley values of its rows: each row is "
                f"valued as a player of your task{measured} without knowing who owns it, so "
                "cutting the same rows into more datasets or accounts, or merging them, "
                "changes no one's payout.",
            )
        )
    label = BASES[basis]
    for pid in sorted(paid):
        share = f"share {_fmt_pct(shares[pid])} ({label} {values[pid]:+.4f})"
        if factors[pid] != 1:
            share += (
                f" × replication factor {float(factors[pid]):.4f} "
                f"(similarity {sums[pid]:.2f} to the others) = {_fmt_pct(paid[pid])}"
            )
        reserve = f"; reserve {_fmt_cents(reserves[pid])} met" if reserves[pid] else ""
        lines.append(
            Line(
                "provider",
                names.get(pid, pid),
                f"{share} → {_fmt_cents(settlement.payouts[pid])}{reserve}.",
                provider=pid,
                numbers={
                    "share": float(shares[pid]),
                    "value": values[pid],
                    "factor": float(factors[pid]),
                    "paid_share": float(paid[pid]),
                    "payout_cents": settlement.payouts[pid],
                    "reserve_cents": reserves[pid],
                },
            )
        )
    penalty = "Withheld by the replication penalty"
    if settlement.refund_cents:
        lines.append(
            Line(
                "refund",
                penalty,
                f"{_fmt_cents(settlement.refund_cents)}, refunded to you; you pay "
                f"{_fmt_cents(settlement.net_charge_cents)} net.",
                numbers={"refund_cents": settlement.refund_cents},
            )
        )
    if settlement.withheld_cents:
        lines.append(
            Line(
                "withheld",
                penalty,
                f"{_fmt_cents(settlement.withheld_cents)}, kept in the platform's replication "
                "reserve account.",
                numbers={"withheld_cents": settlement.withheld_cents},
            )
        )
    parts = " + ".join(f"{settlement.payouts[pid]:,}" for pid in sorted(paid))
    lines.append(
        Line(
            "check",
            "Check",
            f"{charge:,} charged = {parts} to providers + {fee_cents:,} fee + "
            f"{settlement.withheld_cents:,} reserve + {settlement.refund_cents:,} refund.",
            numbers={"charge_cents": charge},
        )
    )
    return lines
