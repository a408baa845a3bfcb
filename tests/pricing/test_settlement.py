"""Settlement: conservation to the cent, rounding bounds, destinations of withheld money."""

import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.money import BPS_PER_UNIT
from pricing.settlement import CONSUMER, PLATFORM_RESERVE, Settlement, settle

share_maps = st.dictionaries(
    st.text(alphabet="abcdefghij", min_size=1, max_size=5),
    st.fractions(min_value=0, max_value=1, max_denominator=10**9),
    min_size=1,
    max_size=200,
)


@st.composite
def settlements_inputs(draw):
    raw = draw(share_maps)
    total = sum(raw.values())
    if total == 0:
        raw = {**raw, next(iter(raw)): Fraction(1)}
        total = sum(raw.values())
    # Scale to a total in (0, 1]: below 1 means part of the pool is withheld.
    target = draw(st.fractions(min_value=Fraction(1, 10**6), max_value=1, max_denominator=10**6))
    shares = {k: v / total * target for k, v in raw.items()}
    return (
        draw(st.integers(0, 10**10)),
        shares,
        draw(st.integers(0, BPS_PER_UNIT)),
        draw(st.sampled_from([CONSUMER, PLATFORM_RESERVE])),
    )


@settings(max_examples=100, deadline=None)
@given(args=settlements_inputs(), seed=st.integers(0, 2**32 - 1))
def test_conservation_rounding_and_order_independence(args, seed):
    charge, shares, bps, destination = args
    s = settle(charge, shares, fee_bps=bps, penalty_destination=destination)
    assert charge == sum(s.payouts.values()) + s.fee_cents + s.withheld_cents + s.refund_cents
    assert s.fee_cents <= Fraction(charge * bps, BPS_PER_UNIT) < s.fee_cents + 1
    pool = charge - s.fee_cents
    assert s.pool_cents == pool
    for pid, cents in s.payouts.items():
        assert cents >= 0
        assert abs(cents - pool * shares[pid]) < 1
        if shares[pid] == 0:
            assert cents == 0
    withheld = s.withheld_cents + s.refund_cents
    assert abs(withheld - pool * (1 - sum(shares.values()))) < 1
    if destination == CONSUMER:
        assert s.withheld_cents == 0
        assert s.net_charge_cents == charge - s.refund_cents
    else:
        assert s.refund_cents == 0
    items = list(shares.items())
    random.Random(seed).shuffle(items)
    assert settle(charge, dict(items), fee_bps=bps, penalty_destination=destination) == s
    assert Settlement.from_dict(s.to_dict()) == s


def test_full_shares_withhold_nothing_and_ties_favour_providers():
    s = settle(1000, {"a": Fraction(1, 2), "b": Fraction(1, 2)}, fee_bps=0)
    assert s.payouts == {"a": 500, "b": 500} and s.refund_cents == 0
    # Pool 10, quotas 3⅓ each for a, b and the withheld account: the spare cent goes to "a".
    third = Fraction(1, 3)
    s = settle(10, {"a": third, "b": third}, fee_bps=0, penalty_destination=PLATFORM_RESERVE)
    assert s.payouts == {"a": 4, "b": 3} and s.withheld_cents == 3


def test_bad_settlements_are_rejected():
    with pytest.raises(ValueError):
        settle(100, {"a": Fraction(3, 4), "b": Fraction(1, 2)}, fee_bps=0)
    with pytest.raises(ValueError):
        settle(100, {"a": Fraction(0)}, fee_bps=0)
    with pytest.raises(ValueError):
        settle(100, {"a": Fraction(-1, 2), "b": Fraction(1)}, fee_bps=0)
    with pytest.raises(ValueError):
        settle(100, {"a": Fraction(1)}, fee_bps=0, penalty_destination="nobody")
