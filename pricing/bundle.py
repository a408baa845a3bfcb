"""Bundle choice: which providers a consumer should buy, and what each level of spend buys.

Input is the engine's cache of coalition utilities, ``utilities[frozenset(ids)] = metric of the
model trained on baseline ∪ those providers`` (the empty coalition is the baseline). For a
bundle S:

- its **lift** is ``U(S) − U(∅)`` and its **worth** that lift × the consumer's cents per point;
- its **price** is the *reserve-clearing price*: the smallest charge at which, after the
  platform fee, every member's exact share of the pool covers its reserve; it is the least
  the bundle can sell for. Shares come from the Shapley values of the sub-game on S
  (``split="subgame"``), or from given values renormalised over S (``split="values"``:
  a payout basis measured once, such as the market's row-level values);
- the consumer's **surplus** is worth − price.

:func:`choose_bundle` returns the bundle with the largest surplus among those priced within
the budget, and the lift-versus-spend frontier for the UI. Bundles with a member whose
sub-game value is not positive are never offered (that member would be pruned by the quote).
Small games whose every coalition is cached are searched exhaustively; otherwise a greedy
forward selection walks the cached coalitions, pricing with the supplied full-game values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from pricing.money import BPS_PER_UNIT, check_bps, check_cents, fee
from pricing.quote import lift_value_cents
from pricing.shares import Contribution, contribution_shares

__all__ = [
    "BundleChoice",
    "CurvePoint",
    "Utilities",
    "choose_bundle",
    "reserve_clearing_price",
    "subgame_shapley",
]

Utilities = Mapping[frozenset[str], float]


def subgame_shapley(utilities: Utilities, players: frozenset[str] | set[str]) -> dict[str, float]:
    """Exact Shapley values of the sub-game on ``players``, from cached coalition utilities.

    Parameters
    ----------
    utilities : mapping of frozenset to float
        Must hold every subset of ``players`` (the empty set included).
    players : set of str
        The sub-game's players.

    Returns
    -------
    dict of str to float
        Values in id order; they sum to ``U(players) − U(∅)``.
    """
    ids = sorted(players)
    n = len(ids)
    # Index coalitions by bitmask once, so each marginal is two list look-ups.
    coalitions = [frozenset(ids[j] for j in range(n) if mask >> j & 1) for mask in range(1 << n)]
    missing = [c for c in coalitions if c not in utilities]
    if missing:
        raise ValueError(f"coalition {sorted(missing[0])} is not cached")
    table = [utilities[c] for c in coalitions]
    weight = [math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n) for k in range(n)]
    values = {}
    for i, pid in enumerate(ids):
        bit = 1 << i
        terms = (
            weight[mask.bit_count()] * (table[mask | bit] - table[mask])
            for mask in range(1 << n)
            if not mask & bit
        )
        values[pid] = math.fsum(terms)
    return values


def reserve_clearing_price(
    shares: Mapping[str, Fraction], reserves: Mapping[str, int], *, fee_bps: int
) -> int | None:
    """The smallest charge whose pool share covers every member's reserve.

    Parameters
    ----------
    shares : mapping of str to Fraction
        Exact shares of the bundle's members.
    reserves : mapping of str to int
        Reserve per member in cents (missing means 0).
    fee_bps : int
        Platform fee in basis points.

    Returns
    -------
    int or None
        The smallest ``C`` with ``(C − fee(C)) * share >= reserve`` for every member — then
        the largest-remainder payout, within one cent of that quota, covers the reserve too.
        None if no charge can (a positive reserve on a zero share, or a 100 % fee).
    """
    check_bps(fee_bps, "fee_bps")
    pool = 0
    for pid, share in shares.items():
        reserve = check_cents(reserves.get(pid, 0), f"reserve of {pid!r}")
        if reserve == 0:
            continue
        if share <= 0:
            return None
        pool = max(pool, math.ceil(reserve / Fraction(share)))
    if pool == 0:
        return 0
    if fee_bps == BPS_PER_UNIT:
        return None
    # C − fee(C) is nondecreasing in C and at least C·(1 − bps/10⁴), so this C is enough;
    # step down while the next smaller charge still leaves the pool that is needed.
    charge = math.ceil(Fraction(pool * BPS_PER_UNIT, BPS_PER_UNIT - fee_bps))
    while charge > 0 and (charge - 1) - fee(charge - 1, fee_bps) >= pool:
        charge -= 1
    return charge


@dataclass(frozen=True)
class CurvePoint:
    """One point of the lift-versus-spend frontier.

    Attributes
    ----------
    price_cents : int
        Reserve-clearing price of the bundle.
    lift : float
        Its lift (point estimate, metric units).
    value_cents : int
        Worth of that lift to the consumer.
    bundle : tuple of str
        Provider ids.
    within_budget : bool
        Whether the price fits the budget.
    """

    price_cents: int
    lift: float
    value_cents: int
    bundle: tuple[str, ...]
    within_budget: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "price_cents": self.price_cents,
            "lift": self.lift,
            "value_cents": self.value_cents,
            "bundle": list(self.bundle),
            "within_budget": self.within_budget,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CurvePoint:
        """Inverse of :meth:`to_dict`."""
        return cls(
            price_cents=int(data["price_cents"]),
            lift=float(data["lift"]),
            value_cents=int(data["value_cents"]),
            bundle=tuple(data["bundle"]),
            within_budget=bool(data["within_budget"]),
        )

    @property
    def surplus_cents(self) -> int:
        """Worth minus price."""
        return self.value_cents - self.price_cents


@dataclass(frozen=True)
class BundleChoice:
    """The recommended bundle and the frontier it was chosen from.

    Attributes
    ----------
    best : CurvePoint or None
        The bundle with the largest surplus within budget, or None if no bundle is worth its
        price.
    curve : tuple of CurvePoint
        Lift-versus-spend frontier: by increasing price, each point lifting more than every
        cheaper one.
    method : str
        ``"exhaustive"`` or ``"greedy"``.
    n_evaluated : int
        Bundles priced.
    """

    best: CurvePoint | None
    curve: tuple[CurvePoint, ...]
    method: str
    n_evaluated: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "best": None if self.best is None else self.best.to_dict(),
            "curve": [p.to_dict() for p in self.curve],
            "method": self.method,
            "n_evaluated": self.n_evaluated,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BundleChoice:
        """Inverse of :meth:`to_dict`."""
        return cls(
            best=None if data["best"] is None else CurvePoint.from_dict(data["best"]),
            curve=tuple(CurvePoint.from_dict(p) for p in data["curve"]),
            method=str(data["method"]),
            n_evaluated=int(data["n_evaluated"]),
        )


def _preference(point: CurvePoint) -> tuple:
    # Most surplus, then most lift, then cheapest, then the smallest id tuple: deterministic.
    return (-point.surplus_cents, -point.lift, point.price_cents, point.bundle)


def _frontier(points: list[CurvePoint]) -> tuple[CurvePoint, ...]:
    frontier: list[CurvePoint] = []
    for p in sorted(points, key=lambda p: (p.price_cents, -p.lift, p.bundle)):
        if not frontier or p.lift > frontier[-1].lift:
            frontier.append(p)
    return tuple(frontier)


def choose_bundle(
    utilities: Utilities,
    *,
    reserves: Mapping[str, int],
    budget_cents: int,
    cents_per_point: int,
    fee_bps: int,
    values: Mapping[str, float] | None = None,
    exhaustive_limit: int = 10,
    split: str = "subgame",
) -> BundleChoice:
    """The surplus-maximising bundle within budget and reserves, and the lift/spend frontier.

    Parameters
    ----------
    utilities : mapping of frozenset to float
        Cached coalition utilities (point estimates); must include the empty coalition.
    reserves : mapping of str to int
        Reserve per provider, in cents (missing means 0).
    budget_cents : int
        The consumer's budget.
    cents_per_point : int
        The consumer's value of one point (0.01) of lift, in cents.
    fee_bps : int
        Platform fee in basis points.
    values : mapping of str to float or None, default None
        Full-game contribution values, used for shares in the greedy search (a bundle's shares
        are its members' values renormalised). Required when the search is greedy or
        ``split="values"``.
    exhaustive_limit : int, default 10
        Largest number of providers searched exhaustively (needs every coalition cached).
    split : {"subgame", "values"}, default "subgame"
        How a bundle's pool would be split: by the Shapley values of its sub-game, or by
        ``values`` renormalised over the bundle.

    Returns
    -------
    BundleChoice
    """
    check_cents(budget_cents, "budget_cents")
    check_cents(cents_per_point, "cents_per_point")
    check_bps(fee_bps, "fee_bps")
    if split not in ("subgame", "values"):
        raise ValueError(f"split must be 'subgame' or 'values', not {split!r}")
    if split == "values" and values is None:
        raise ValueError('split="values" needs the values to split by')
    empty: frozenset[str] = frozenset()
    if empty not in utilities:
        raise ValueError("utilities must include the empty coalition (the baseline)")
    players = frozenset().union(*utilities)
    baseline = utilities[empty]

    def price(bundle: frozenset[str], member_values: Mapping[str, float]) -> CurvePoint | None:
        lift = utilities[bundle] - baseline
        if lift <= 0 or any(member_values[p] <= 0 for p in bundle):
            return None
        contributions = [Contribution(p, member_values[p]) for p in bundle]
        shares = contribution_shares(contributions).shares
        if set(shares) != bundle:
            return None
        cost = reserve_clearing_price(shares, reserves, fee_bps=fee_bps)
        if cost is None:
            return None
        return CurvePoint(
            price_cents=cost,
            lift=lift,
            value_cents=lift_value_cents(lift, cents_per_point),
            bundle=tuple(sorted(bundle)),
            within_budget=cost <= budget_cents,
        )

    complete = len(players) <= exhaustive_limit and len(utilities) >= 2 ** len(players)
    points: list[CurvePoint] = []
    n_evaluated = 0
    if complete:
        method = "exhaustive"
        for bundle in sorted(utilities, key=lambda s: (len(s), sorted(s))):
            if bundle:
                n_evaluated += 1
                shares_by = subgame_shapley(utilities, bundle) if split == "subgame" else values
                point = price(bundle, shares_by)
                if point is not None:
                    points.append(point)
    else:
        method = "greedy"
        if values is None or not players <= set(values):
            raise ValueError("a greedy search needs the full-game value of every provider")
        chosen: frozenset[str] = empty
        while True:
            step = []
            for p in sorted(players - chosen):
                candidate = chosen | {p}
                if candidate in utilities:
                    n_evaluated += 1
                    point = price(candidate, values)
                    if point is not None:
                        points.append(point)
                        if point.within_budget:
                            step.append(point)
            if not step:
                break
            chosen = frozenset(min(step, key=_preference).bundle)
    buyable = [p for p in points if p.within_budget and p.surplus_cents >= 0]
    best = min(buyable, key=_preference) if buyable else None
    return BundleChoice(best=best, curve=_frontier(points), method=method, n_evaluated=n_evaluated)
