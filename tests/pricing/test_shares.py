"""Shares from values: exclusion of harmful and null providers, exact proportional shares."""

import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from pricing.money import to_fraction
from pricing.shares import (
    DEFAULT_Z,
    HARMFUL,
    NO_CONTRIBUTION,
    Contribution,
    contribution_shares,
    measurable,
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


def bh_oracle(contributions, fdr) -> set[str]:
    """Benjamini-Hochberg from its definition, on p-values from scipy's normal tail."""
    p = {
        c.provider_id: norm.sf(c.value / c.stderr) if c.stderr else float(c.value <= 0)
        for c in contributions
    }
    ranked = sorted(p, key=p.get)
    n = len(ranked)
    k = max((k for k in range(1, n + 1) if p[ranked[k - 1]] <= k * fdr / n), default=0)
    cut = p[ranked[k - 1]] if k else -1.0
    return {
        pid
        for pid in ranked
        if p[pid] <= cut and pid in {c.provider_id for c in contributions if c.value > 0}
    }


@settings(max_examples=150, deadline=None)
@given(contributions=contribution_lists, fdr=st.floats(min_value=1e-4, max_value=1.0))
def test_a_measurable_contribution_is_a_benjamini_hochberg_discovery(contributions, fdr):
    paid = measurable(contributions, fdr)
    assert paid == bh_oracle(contributions, fdr)
    # The quote judges the providers it kept once more: they all stay.
    assert measurable([c for c in contributions if c.provider_id in paid], fdr) == paid
    # At rate 1 every positive value is measurable, which is the default split.
    everyone = contribution_shares(contributions, paid_fdr=1.0)
    assert everyone == contribution_shares(contributions)
    shares = contribution_shares(contributions, paid_fdr=fdr)
    assert set(shares.shares) <= paid and set(shares.shares) <= set(everyone.shares)


def test_the_bar_rises_with_the_number_of_tickets():
    # Two standard errors clear a fixed 1.96 bar; beside nine values of pure noise they are
    # what one of ten noisy datasets would show by chance, and are not paid at 5%.
    lucky = Contribution("lucky", 0.02, 0.01)
    assert lucky.p_value() == pytest.approx(norm.sf(2.0))
    assert measurable([lucky], 0.05) == {"lucky"}
    noise = [Contribution(f"n{i}", 0.001 * (i - 4), 0.01) for i in range(9)]
    assert measurable([lucky, *noise], 0.05) == set()
    assert contribution_shares([lucky, *noise], paid_fdr=0.05).shares == {}
    # A value measured without error is measurable when positive.
    assert measurable([Contribution("exact", 1e-6), *noise], 0.05) == {"exact"}


@pytest.mark.parametrize("fdr", [0.0, -0.1, 1.5, float("nan")])
def test_a_false_discovery_rate_outside_0_to_1_is_refused(fdr):
    with pytest.raises(ValueError, match="false-discovery rate"):
        contribution_shares([Contribution("a", 0.1, 0.01)], paid_fdr=fdr)


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
