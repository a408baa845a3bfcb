"""Myerson payment: closed-form oracle, exact bounds, ironing and truthfulness."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.mechanisms.myerson import (
    allocated_gain,
    allocation_level,
    buyer_utility,
    monotone_envelope,
    myerson_payment,
    revenue_by_price,
)


def ramp(price, points=20_001, top=None):
    """h_p(z) = min(z/p, 1) sampled on [0, top]."""
    grid = np.linspace(0.0, top if top is not None else 3 * price, points)
    return grid, np.minimum(grid / price, 1.0)


def closed_form(price, bid):
    return bid**2 / (2 * price) if bid < price else price / 2


@pytest.mark.parametrize(("price", "bid", "expected"), [(10, 4, 0.8), (10, 10, 5.0), (10, 25, 5.0)])
def test_market_md_closed_form_check_values(price, bid, expected):
    grid, gains = ramp(price)
    assert myerson_payment(bid, grid, gains) == pytest.approx(expected, abs=2e-3)
    assert closed_form(price, bid) == pytest.approx(expected)


@settings(max_examples=60, deadline=None)
@given(price=st.floats(0.5, 50.0), bid=st.floats(0.0, 100.0))
def test_closed_form_is_matched_within_the_step_error(price, bid):
    # RF_step − RF = ∫₀ᵇ d − b·d(b) with d = h − (left-step h) in [0, Δ/p]: |error| ≤ b·Δ/p,
    # and b·d(b) vanishes once a grid point lies between p and b.
    for points in (2_001, 40_001):
        step = 100.0 / (points - 1)
        error = abs(myerson_payment(bid, *ramp(price, points, 100.0)) - closed_form(price, bid))
        assert error <= (min(bid, price) + step) * step / price + 1e-9


curves = st.integers(1, 40).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(0.01, 5.0), min_size=n - 1, max_size=n - 1),
        st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n),
    )
)


def _grid(widths):
    return np.concatenate(([0.0], np.cumsum(widths)))


@settings(max_examples=200, deadline=None)
@given(curve=curves, bid=st.floats(0.0, 250.0))
def test_payment_bounds_hold_exactly(curve, bid):
    widths, gains = curve
    grid = _grid(widths)
    rf = myerson_payment(bid, grid, gains)
    top = allocated_gain(bid, grid, gains)
    assert 0.0 <= rf <= bid * top
    assert top == max(gains[: int(np.searchsorted(grid, bid, side="right"))])


@settings(max_examples=100, deadline=None)
@given(curve=curves, valuation=st.floats(0.0, 200.0), monotone=st.booleans())
def test_truthful_bidding_is_optimal(curve, valuation, monotone):
    widths, gains = curve
    grid = _grid(widths)
    h = np.sort(gains) if monotone else np.asarray(gains)
    bids = np.unique(np.concatenate([np.linspace(0, 250, 126), grid, grid + 1e-9, [valuation]]))
    truthful = buyer_utility(valuation, valuation, grid, h)
    best = max(buyer_utility(valuation, b, grid, h) for b in bids)
    assert truthful >= best - 1e-9
    assert truthful >= -1e-12


def test_ironing_allocates_the_best_level_below_the_bid():
    grid = np.array([0.0, 1.0, 2.0, 3.0])
    gains = np.array([0.1, 0.6, 0.3, 0.8])
    assert monotone_envelope(gains).tolist() == [0.1, 0.6, 0.6, 0.8]
    assert allocation_level(2.5, grid, gains) == 1.0
    assert allocated_gain(2.5, grid, gains) == 0.6
    # ∫₀^2.5 (0.6 − ĥ) = 0.5·1 on [0, 1), 0 elsewhere.
    assert myerson_payment(2.5, grid, gains) == pytest.approx(0.5)


def test_revenue_by_price_matches_its_closed_form_and_is_flat_above_the_price():
    # H(s) = 1 − s/S gives h_c(z) = 1 − (c − z)/S below c, hence RF(c, b) = min(b, c)² / (2S).
    scale = 20.0
    s = np.linspace(0.0, scale, 4_001)
    prices = np.array([0.0, 2.0, 5.0, 10.0, 20.0])
    for bid in (1.0, 5.0, 12.0, 30.0):
        got = revenue_by_price(prices, bid, s, 1.0 - s / scale)
        expected = np.minimum(bid, prices) ** 2 / (2 * scale)
        assert got == pytest.approx(expected, abs=5e-3)
        assert np.all(got >= 0) and np.all(got <= bid)
    above = [revenue_by_price(prices[:3], b, s, 1.0 - s / scale) for b in (5.0, 7.5, 40.0)]
    assert np.array_equal(above[0], above[1]) and np.array_equal(above[1], above[2])


def test_bad_curves_are_rejected():
    with pytest.raises(ValueError):
        myerson_payment(1.0, [0.5, 1.0], [0.1, 0.2])
    with pytest.raises(ValueError):
        myerson_payment(1.0, [0.0, 0.0], [0.1, 0.2])
    with pytest.raises(ValueError):
        myerson_payment(-1.0, [0.0, 1.0], [0.1, 0.2])
    with pytest.raises(ValueError):
        myerson_payment(1.0, [0.0, 1.0], [0.1])
