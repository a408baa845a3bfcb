"""Check a least-core payoff vector before paying by it (Yan & Procaccia 2021; market.md §1.6).

Least-core payouts are a policy choice: the engine solves the least-core LP, the quote splits
money in proportion to the resulting payoffs (see :func:`pricing.quote.quote`, ``basis=
"least_core"``). This module certifies such a vector against the cached coalition utilities:
efficiency, ``sum(x) = v(N)``, and coalitional stability, ``sum_{i in S} x_i + e >= v(S)``
for every cached proper coalition S — no group of providers is paid less than it could earn alone,
minus the subsidy ``e``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LeastCoreCheck", "check_least_core"]


@dataclass(frozen=True)
class LeastCoreCheck:
    """Outcome of :func:`check_least_core`.

    Attributes
    ----------
    efficiency_gap : float
        ``sum(x) − v(N)``.
    violations : dict of tuple to float
        Coalitions (sorted ids) whose constraint fails, with the shortfall
        ``v(S) − sum_S x − e`` (> tolerance).
    tolerance : float
        The slack allowed.
    """

    efficiency_gap: float
    violations: dict[tuple[str, ...], float] = field(default_factory=dict)
    tolerance: float = 1e-9

    @property
    def ok(self) -> bool:
        """Efficient within tolerance and no coalition constraint violated."""
        return abs(self.efficiency_gap) <= self.tolerance and not self.violations

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; coalitions are written as lists of ids."""
        return {
            "efficiency_gap": self.efficiency_gap,
            "violations": [[list(s), gap] for s, gap in self.violations.items()],
            "tolerance": self.tolerance,
            "ok": self.ok,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LeastCoreCheck:
        """Inverse of :meth:`to_dict` (``ok`` is recomputed)."""
        return cls(
            efficiency_gap=float(data["efficiency_gap"]),
            violations={tuple(s): float(gap) for s, gap in data["violations"]},
            tolerance=float(data["tolerance"]),
        )


def check_least_core(
    payoffs: Mapping[str, float],
    utilities: Mapping[frozenset[str], float],
    *,
    subsidy: float,
    tolerance: float = 1e-9,
) -> LeastCoreCheck:
    """Check efficiency and every cached coalition constraint of a least-core vector.

    Parameters
    ----------
    payoffs : mapping of str to float
        Payoff ``x_i`` per player.
    utilities : mapping of frozenset to float
        Cached coalition utilities; the game is ``v(S) = U(S) − U(∅)`` (``U(∅)`` is 0 if absent).
        Must include the grand coalition of the players in ``payoffs``.
    subsidy : float
        The least-core value ``e``.
    tolerance : float, default 1e-9
        Slack for floating-point error.

    Returns
    -------
    LeastCoreCheck
    """
    grand = frozenset(payoffs)
    if grand not in utilities:
        raise ValueError("utilities must include the grand coalition of the payoff's players")
    base = utilities.get(frozenset(), 0.0)
    gap = math.fsum(payoffs.values()) - (utilities[grand] - base)
    violations = {}
    for coalition in sorted(utilities, key=lambda s: (len(s), sorted(s))):
        # The grand coalition is bound by efficiency instead; only proper ones need stability.
        if not coalition or not coalition < grand:
            continue
        shortfall = (utilities[coalition] - base) - math.fsum(payoffs[p] for p in coalition)
        shortfall -= subsidy
        if shortfall > tolerance:
            violations[tuple(sorted(coalition))] = shortfall
    return LeastCoreCheck(efficiency_gap=gap, violations=violations, tolerance=tolerance)
