"""Shares from values: exclusion of harmful and null providers, exact proportional shares."""

import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.money import to_fraction
from pricing.shares import (
    DEFAULT_Z,
    HARMFUL,
    NO_CONTRIBUTION,
    Contribution,
    contribution_shares,
)

contribution_lists = st.lists(
    st.builds(
        Contribution,
        provider_id=st.text(alphabet="abcdefgh", min_size=1, max_size=4),
        value=st.floats(min_value=-1.0, max_value=1.0, allow_nan=False),
        stderr=st.floats(min_value=0.0, max_value=0.5, allow_nan=False),
    ),
    max_size=30,
    unique_by=lambda c: c.provider_id,
)


@settings(max_examples=150, deadline=None)
@given(contributions=contribution_lists, seed=st.integers(0, 2**32 - 1))
def test_shares_follow_the_documented_rule(contributions, seed):
    result = contribution_shares(contributions)
    by_id = {c.provider_id: c for c in contributions}
    assert set(result.shares) | set(result.excluded) == set(by_id)
    assert not set(result.shares) & set(result.excluded)
    for pid, why in result.excluded.items():
        c = by_id[pid]
        assert to_fraction(c.value, decimals=12) <= 0
        assert why == (HARMFUL if c.value + DEFAULT_Z * c.stderr < 0 else NO_CONTRIBUTION)
    if result.shares:
        assert sum(result.shares.values()) == 1
        positive = {pid: to_fraction(by_id[pid].value, decimals=12) for pid in result.shares}
        total = sum(positive.values())
        for pid, share in result.shares.items():
            assert share > 0
            assert share == positive[pid] / total
    else:
        assert not result.sale_possible
        assert all(to_fraction(c.value, decimals=12) <= 0 for c in contributions)
    shuffled = list(contributions)
    random.Random(seed).shuffle(shuffled)
    assert contribution_shares(shuffled) == result


def test_ties_share_exactly_and_all_zero_means_no_sale():
    tied = contribution_shares([Contribution("b", 0.1), Contribution("a", 0.1)])
    assert tied.shares == {"a": Fraction(1, 2), "b": Fraction(1, 2)}
    nobody = contribution_shares([Contribution("a", 0.0), Contribution("b", -0.2, 0.01)])
    assert nobody.shares == {}
    assert not nobody.sale_possible
    assert nobody.excluded == {"a": NO_CONTRIBUTION, "b": HARMFUL}


def test_interval_width_decides_harmful_versus_no_contribution():
    c = Contribution("a", -0.02, 0.015)
    assert contribution_shares([c], z=1.0).excluded == {"a": HARMFUL}
    assert contribution_shares([c], z=2.0).excluded == {"a": NO_CONTRIBUTION}


def test_bad_contributions_are_rejected():
    with pytest.raises(ValueError):
        contribution_shares([Contribution("a", 0.1), Contribution("a", 0.2)])
    with pytest.raises(ValueError):
        Contribution("a", float("nan"))
    with pytest.raises(ValueError):
        Contribution("a", 0.1, -0.01)
    with pytest.raises(ValueError):
        Contribution("", 0.1)
    with pytest.raises(TypeError):
        Contribution("a", 0.1, reserve_cents=1.5)


def test_contribution_round_trips_through_dict():
    c = Contribution("a", 0.125, 0.01, 300)
    assert Contribution.from_dict(c.to_dict()) == c
