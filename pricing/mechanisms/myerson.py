"""Myerson payment RF* for a gain curve (Agarwal, Dahleh & Sarkar 2019, §4; market.md §1.1).

A buyer bids ``b`` per unit of gain; the market degrades the data in proportion to how far the
bid falls short of the price, so the gain the buyer gets is a curve ``h(z)`` of the bid. The
payment ``RF(b) = b·h(b) − ∫₀ᵇ h(z) dz`` makes bidding one's true value optimal whenever ``h``
is nondecreasing (Theorem 5.1).

A measured curve need not be monotone (noise can help a model by chance), so it is *ironed*:
the market allocates the best level reachable at or below the bid and prices with the upper
envelope ``ĥ(z) = max_{z' ≤ z} h(z')``. The curve is a step function on its grid — the value
at a grid point holds until the next one — so the integral is a left Riemann sum that is exact
for that step function, which keeps truthfulness exact and ``0 <= RF <= b·ĥ(b)`` in floating
point.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "allocation_level",
    "allocated_gain",
    "buyer_utility",
    "monotone_envelope",
    "myerson_payment",
    "revenue_by_price",
]


def monotone_envelope(gains: ArrayLike) -> np.ndarray:
    """Running maximum of a gain curve: the smallest nondecreasing curve above it."""
    return np.maximum.accumulate(np.asarray(gains, dtype=float))


def _curve(grid: ArrayLike, gains: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    z = np.asarray(grid, dtype=float)
    h = np.asarray(gains, dtype=float)
    if z.ndim != 1 or z.shape != h.shape or z.size == 0:
        raise ValueError("grid and gains must be 1-d, non-empty and of the same length")
    if not (np.all(np.isfinite(z)) and np.all(np.isfinite(h))):
        raise ValueError("grid and gains must be finite")
    if z[0] != 0.0 or np.any(np.diff(z) <= 0):
        raise ValueError("grid must start at 0 and increase strictly")
    return z, h


def _last_index(z: np.ndarray, bid: float) -> int:
    if not np.isfinite(bid) or bid < 0:
        raise ValueError("bid must be finite and >= 0")
    return int(np.searchsorted(z, bid, side="right")) - 1


def allocated_gain(bid: float, grid: ArrayLike, gains: ArrayLike) -> float:
    """The gain delivered at ``bid``: the envelope ``ĥ(bid)``."""
    z, h = _curve(grid, gains)
    return float(monotone_envelope(h)[_last_index(z, bid)])


def allocation_level(bid: float, grid: ArrayLike, gains: ArrayLike) -> float:
    """The bid level whose allocation is delivered: the first grid point ``<= bid`` of best gain.

    The market degrades the data as if this had been the bid (ironing), so the buyer receives
    exactly :func:`allocated_gain`.
    """
    z, h = _curve(grid, gains)
    k = _last_index(z, bid)
    return float(z[int(np.argmax(h[: k + 1]))])


def myerson_payment(bid: float, grid: ArrayLike, gains: ArrayLike) -> float:
    """RF* = ``b·ĥ(b) − ∫₀ᵇ ĥ(z) dz`` on the step-function envelope of the curve.

    Parameters
    ----------
    bid : float
        The buyer's bid per unit of gain (>= 0).
    grid : array-like of shape (n,)
        Bid levels, starting at 0 and strictly increasing.
    gains : array-like of shape (n,)
        Gain at each level; it holds until the next level (and beyond the last).

    Returns
    -------
    float
        The payment, in the bid's currency units; ``0 <= RF <= bid·ĥ(bid)``.
    """
    z, h = _curve(grid, gains)
    k = _last_index(z, bid)
    env = monotone_envelope(h)
    top = env[k]
    # Written as ∫₀ᵇ (ĥ(b) − ĥ(z)) dz: every term is a product of two non-negative floats, so
    # the sum cannot go below zero. The last partial step adds (top − env[k])·… = 0.
    payment = float(np.sum((top - env[:k]) * np.diff(z[: k + 1])))
    # Summing widths may overshoot b by an ulp; the bound holds exactly after the cap.
    return min(payment, bid * float(top))


def buyer_utility(valuation: float, bid: float, grid: ArrayLike, gains: ArrayLike) -> float:
    """A buyer's utility ``μ·ĥ(b) − RF(b)`` for a true value ``μ`` per unit of gain."""
    return valuation * allocated_gain(bid, grid, gains) - myerson_payment(bid, grid, gains)


def revenue_by_price(
    prices: ArrayLike, bid: float, noise_grid: ArrayLike, noise_gains: ArrayLike
) -> np.ndarray:
    """Counterfactual RF*(c, b) for every candidate price c, from one noise curve.

    Under the allocation AF*, the data given to a bid ``z`` at price ``c`` carries noise of
    scale ``(c − z)⁺``, so one measured curve ``H(s)`` (gain at noise scale ``s``) gives every
    price's gain curve ``h_c(z) = H((c − z)⁺)``: one set of model fits per buyer, not one per
    price.

    Parameters
    ----------
    prices : array-like of shape (k,)
        Candidate prices (>= 0).
    bid : float
        The buyer's bid.
    noise_grid : array-like of shape (m,)
        Noise scales, from 0, strictly increasing; ``H`` is held constant beyond the last.
    noise_gains : array-like of shape (m,)
        ``H`` at those scales (linear in between).

    Returns
    -------
    ndarray of shape (k,)
        Revenue per price, each in ``[0, bid·max(H)]``.
    """
    s, big_h = _curve(noise_grid, noise_gains)
    revenue = []
    for c in np.asarray(prices, dtype=float):
        if not np.isfinite(c) or c < 0:
            raise ValueError("prices must be finite and >= 0")
        # Levels where h_c changes: z = c − s for the sampled scales below c, and z = 0.
        z = np.unique(np.concatenate(([0.0], c - s[s < c])))
        h = np.interp(c - z, s, big_h)
        revenue.append(myerson_payment(bid, z, h))
    return np.asarray(revenue)
