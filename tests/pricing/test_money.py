"""Money: exact conversion, floored fees and the largest-remainder split (market.md §1.3, §3.2)."""

import math
import random
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.money import BPS_PER_UNIT, fee, largest_remainder, to_fraction

ids = st.text(alphabet="abcdefghij0123456789", min_size=1, max_size=6)
weights = st.dictionaries(
    ids,
    st.one_of(
        st.fractions(min_value=0, max_value=1000, max_denominator=10**6),
        st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
        st.integers(min_value=0, max_value=10**6),
    ),
    min_size=1,
    max_size=200,
).filter(lambda w: sum(to_fraction(x) for x in w.values()) > 0)
pools = st.integers(min_value=0, max_value=10**12)


def test_market_md_vectors():
    assert largest_remainder(1000, {"a": 1, "b": 1, "c": 1}) == {"a": 334, "b": 333, "c": 333}
    shares = {"p1": 0.4123, "p2": 0.3, "p3": 0.1877, "p4": 0.1}
    assert list(largest_remainder(9700, shares).values()) == [3999, 2910, 1821, 970]
    decimal_shares = {k: str(v) for k, v in shares.items()}
    assert list(largest_remainder(9700, decimal_shares).values()) == [3999, 2910, 1821, 970]


def test_ties_go_to_the_smaller_id_whatever_the_input_order():
    expected = {"a": 334, "b": 333, "c": 333}
    assert largest_remainder(1000, {"c": 1, "b": 1, "a": 1}) == expected
    assert largest_remainder(2, {"z": 1, "y": 1, "x": 1}) == {"x": 1, "y": 1, "z": 0}


@settings(max_examples=150, deadline=None)
@given(pool=pools, w=weights)
def test_split_is_exact_close_and_keeps_zeros(pool, w):
    parts = largest_remainder(pool, w)
    assert sum(parts.values()) == pool
    exact = {k: to_fraction(v) for k, v in w.items()}
    total = sum(exact.values())
    for key, part in parts.items():
        quota = pool * exact[key] / total
        assert isinstance(part, int)
        assert abs(part - quota) < 1
        assert part >= 0
        if exact[key] == 0:
            assert part == 0


@settings(max_examples=60, deadline=None)
@given(pool=pools, w=weights, seed=st.integers(0, 2**32 - 1))
def test_split_does_not_depend_on_input_order(pool, w, seed):
    items = list(w.items())
    random.Random(seed).shuffle(items)
    assert largest_remainder(pool, dict(items)) == largest_remainder(pool, w)


def test_split_rejects_bad_weights_and_pools():
    with pytest.raises(ValueError):
        largest_remainder(10, {"a": 0, "b": 0})
    with pytest.raises(ValueError):
        largest_remainder(10, {"a": -1, "b": 2})
    with pytest.raises(ValueError):
        largest_remainder(-1, {"a": 1})
    with pytest.raises(TypeError):
        largest_remainder(10.0, {"a": 1})
    with pytest.raises(ValueError):
        largest_remainder(10, {"a": float("nan")})


@settings(max_examples=200, deadline=None)
@given(amount=pools, bps=st.integers(0, BPS_PER_UNIT))
def test_fee_is_floored(amount, bps):
    f = fee(amount, bps)
    exact = Fraction(amount * bps, BPS_PER_UNIT)
    assert f <= exact < f + 1
    assert 0 <= f <= amount


def test_fee_rejects_bad_rates_and_float_amounts():
    for bad in (-1, BPS_PER_UNIT + 1):
        with pytest.raises(ValueError):
            fee(100, bad)
    with pytest.raises(TypeError):
        fee(100.0, 250)
    with pytest.raises(TypeError):
        fee(True, 250)


def test_to_fraction_is_exact_or_quantised_half_even():
    assert to_fraction(0.1) == Fraction(0.1) != Fraction(1, 10)
    assert to_fraction(0.1, decimals=12) == Fraction(1, 10)
    assert to_fraction(0.29, decimals=12) == Fraction(29, 100)
    # 0.125 is exact in binary, so the tie rounds to the even neighbour.
    assert to_fraction(0.125, decimals=2) == Fraction(12, 100)
    assert to_fraction(0.375, decimals=2) == Fraction(38, 100)
    assert to_fraction("0.4123") == Fraction(4123, 10000)
    assert to_fraction(Decimal("-2.5")) == Fraction(-5, 2)
    for bad in (math.nan, math.inf, "nan", True):
        with pytest.raises(ValueError):
            to_fraction(bad)


@settings(max_examples=200, deadline=None)
@given(x=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), d=st.integers(0, 15))
def test_quantisation_error_is_at_most_half_a_quantum(x, d):
    q = to_fraction(x, decimals=d)
    assert abs(q - Fraction(x)) <= Fraction(1, 2 * 10**d)
    assert (q * 10**d).denominator == 1
