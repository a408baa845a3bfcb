"""Shapley-Robust replication penalty (Agarwal, Dahleh & Sarkar 2019, Algorithm 3).

A provider who uploads copies of its data under several identities collects several Shapley
shares. The penalty multiplies each share by ``exp(-lam * sum_j sim(m, j))``, the sum running
over the other providers of the bundle; with ``lam = log 2`` splitting one's data into copies
never raises one's total (Theorem 5.4), because ``(c + 1) * f(x + c) <= f(x)`` for the penalty
``f(x) = 2**-x`` (Proposition 5.2).

The penalised shares sum to less than one. That remainder is money nobody earned; it is never
renormalised away (that would undo the robustness) — :func:`pricing.settlement.settle` sends it
to a named destination.

Exact duplicates should be merged before valuation (at upload); this penalty is the second line
of defence for near-duplicates, and it also lowers honest providers whose data resembles
others', so keep the similarity meaningful (e.g. 1 − Hellinger distance, or |cosine|).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from fractions import Fraction

from pricing.money import MEASUREMENT_DECIMALS, to_fraction

__all__ = [
    "LOG2",
    "Similarity",
    "exponential_penalty",
    "penalty_factors",
    "robust_shares",
    "similarity_sums",
]

#: The penalty rate of Theorem 5.4.
LOG2 = math.log(2.0)

#: Pairwise similarity in [0, 1] as a nested mapping ``sim[a][b]``; a missing pair means 0,
#: and either direction may be given.
Similarity = Mapping[str, Mapping[str, float]]


def exponential_penalty(x: float, lam: float = LOG2) -> float:
    """The penalty ``f(x) = exp(-lam * x)`` for a cumulative similarity ``x >= 0``."""
    return math.exp(-lam * x)


def _pair(similarity: Similarity, a: str, b: str) -> float:
    forward = similarity.get(a, {}).get(b)
    backward = similarity.get(b, {}).get(a)
    if forward is not None and backward is not None and forward != backward:
        raise ValueError(f"similarity of {a!r} and {b!r} is not symmetric")
    s = forward if forward is not None else backward
    if s is None:
        return 0.0
    if not (math.isfinite(s) and 0.0 <= s <= 1.0):
        raise ValueError(f"similarity of {a!r} and {b!r} must lie in [0, 1], got {s!r}")
    return float(s)


def similarity_sums(provider_ids: Iterable[str], similarity: Similarity) -> dict[str, float]:
    """Cumulative similarity of each provider to the others of the bundle.

    Parameters
    ----------
    provider_ids : iterable of str
        The bundle's providers; similarities to anyone outside it are ignored.
    similarity : Similarity
        Pairwise similarities; self-similarity is ignored.

    Returns
    -------
    dict of str to float
        ``sum_{j != m} sim(m, j)`` per provider, in id order.
    """
    ids = sorted(set(provider_ids))
    # math.fsum makes the sum independent of the order the pairs are added in.
    return {m: math.fsum(_pair(similarity, m, j) for j in ids if j != m) for m in ids}


def penalty_factors(
    provider_ids: Iterable[str], similarity: Similarity, *, lam: float = LOG2
) -> dict[str, Fraction]:
    """Multiplier ``exp(-lam * sum_j sim(m, j))`` of each provider's share, as an exact fraction.

    Parameters
    ----------
    provider_ids : iterable of str
        The bundle's providers.
    similarity : Similarity
        Pairwise similarities in [0, 1].
    lam : float, default log 2
        Penalty rate (>= 0); 0 switches the penalty off.

    Returns
    -------
    dict of str to Fraction
        Factors in [0, 1], quantised to :data:`~pricing.money.MEASUREMENT_DECIMALS` places so
        that, e.g., ``exp(-log 2)`` is exactly 1/2.
    """
    if not math.isfinite(lam) or lam < 0:
        raise ValueError("lam must be finite and >= 0")
    sums = similarity_sums(provider_ids, similarity)
    return {
        m: to_fraction(exponential_penalty(x, lam), decimals=MEASUREMENT_DECIMALS)
        for m, x in sums.items()
    }


def robust_shares(
    shares: Mapping[str, Fraction], similarity: Similarity, *, lam: float = LOG2
) -> dict[str, Fraction]:
    """Shapley-Robust shares: each share times its provider's penalty factor.

    Parameters
    ----------
    shares : mapping of str to Fraction
        Exact shares of the bundle's providers (summing to 1).
    similarity : Similarity
        Pairwise similarities in [0, 1] between providers.
    lam : float, default log 2
        Penalty rate.

    Returns
    -------
    dict of str to Fraction
        Penalised shares, in id order; they sum to at most 1.
    """
    factors = penalty_factors(shares, similarity, lam=lam)
    return {m: shares[m] * factors[m] for m in factors}
