"""No-arbitrage check for a posted list of bundle prices (Koutris et al.; market.md §1.7).

A price list invites arbitrage when a buyer can pay less for the same data by buying it
differently: it must be **monotone** (a bundle never costs less than a bundle it contains)
and **subadditive** (a union never costs more than its parts bought separately).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pricing.money import check_cents

__all__ = ["MONOTONE", "SUBADDITIVE", "ArbitrageViolation", "arbitrage_violations"]

MONOTONE = "monotone"
SUBADDITIVE = "subadditive"


@dataclass(frozen=True)
class ArbitrageViolation:
    """One pair of bundles that breaks a no-arbitrage rule.

    Attributes
    ----------
    kind : str
        ``"monotone"``: ``first`` is inside ``second`` but costs more. ``"subadditive"``:
        ``union`` (= ``first`` ∪ ``second``) costs more than ``first`` and ``second`` together.
    first, second : tuple of str
        The violating pair, each bundle as sorted provider ids.
    union : tuple of str
        ``first`` ∪ ``second`` (for a monotone violation, equal to ``second``).
    excess_cents : int
        How much cheaper the arbitrage is than the posted price (> 0).
    """

    kind: str
    first: tuple[str, ...]
    second: tuple[str, ...]
    union: tuple[str, ...]
    excess_cents: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "kind": self.kind,
            "first": list(self.first),
            "second": list(self.second),
            "union": list(self.union),
            "excess_cents": self.excess_cents,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ArbitrageViolation:
        """Inverse of :meth:`to_dict`."""
        return cls(
            kind=str(data["kind"]),
            first=tuple(data["first"]),
            second=tuple(data["second"]),
            union=tuple(data["union"]),
            excess_cents=int(data["excess_cents"]),
        )


def _key(bundle: frozenset[str]) -> tuple[int, tuple[str, ...]]:
    return (len(bundle), tuple(sorted(bundle)))


def arbitrage_violations(prices: Mapping[frozenset[str], int]) -> list[ArbitrageViolation]:
    """Every pair of listed bundles that breaks monotonicity or subadditivity.

    Parameters
    ----------
    prices : mapping of frozenset to int
        Posted price of each bundle, in cents. Subadditivity is checked for every pair whose
        union is also listed.

    Returns
    -------
    list of ArbitrageViolation
        Empty when the list is arbitrage-free; sorted deterministically otherwise.
    """
    for bundle, cents in prices.items():
        check_cents(cents, f"price of {sorted(bundle)}")
    bundles = sorted(prices, key=_key)
    found = []
    for a, b in itertools.combinations(bundles, 2):
        name_a, name_b = tuple(sorted(a)), tuple(sorted(b))
        for small, big in ((a, b), (b, a)):
            if small < big and prices[small] > prices[big]:
                found.append(
                    ArbitrageViolation(
                        kind=MONOTONE,
                        first=tuple(sorted(small)),
                        second=tuple(sorted(big)),
                        union=tuple(sorted(big)),
                        excess_cents=prices[small] - prices[big],
                    )
                )
        union = a | b
        if union in prices and prices[union] > prices[a] + prices[b]:
            found.append(
                ArbitrageViolation(
                    kind=SUBADDITIVE,
                    first=name_a,
                    second=name_b,
                    union=tuple(sorted(union)),
                    excess_cents=prices[union] - prices[a] - prices[b],
                )
            )
    return found
