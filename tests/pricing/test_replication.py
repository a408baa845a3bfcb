"""Shapley-Robust penalty: market.md test vectors, the penalty condition and replication gain."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.replication import (
    LOG2,
    exponential_penalty,
    penalty_factors,
    robust_shares,
    similarity_sums,
)
from pricing.shares import Contribution, contribution_shares
from tests.pricing.oracles import random_monotone_type_game, shapley_by_permutations


def _identical_sellers(n_a: int, lam: float) -> tuple[Fraction, Fraction]:
    """A holds ``n_a`` identities of the same data as the honest seller B."""
    players = [f"A{i}" for i in range(n_a)] + ["B"]
    phi = shapley_by_permutations(players, lambda s: 1.0 if s else 0.0)
    shares = contribution_shares([Contribution(p, phi[p]) for p in players]).shares
    sim = {p: {q: 1.0 for q in players if q != p} for p in players}
    robust = robust_shares(shares, sim, lam=lam)
    return sum(robust[f"A{i}"] for i in range(n_a)), robust["B"]


@pytest.mark.parametrize(
    ("copies", "a_total", "b_share"),
    [
        (1, Fraction(1, 4), Fraction(1, 4)),
        (2, Fraction(1, 6), Fraction(1, 12)),
        (3, Fraction(3, 32), Fraction(1, 32)),
    ],
)
def test_market_md_table_for_identical_sellers(copies, a_total, b_share):
    a, b = _identical_sellers(copies, LOG2)
    assert a == a_total
    assert b == b_share


def test_market_md_example_4_5_with_unit_rate():
    before, _ = _identical_sellers(1, 1.0)
    after, _ = _identical_sellers(2, 1.0)
    assert math.isclose(before, 1 / (2 * math.e), abs_tol=1e-11)
    assert math.isclose(after, 2 / (3 * math.e**2), abs_tol=1e-11)


def test_exponential_penalty_satisfies_proposition_5_2_at_log_2_only():
    xs = np.linspace(0.0, 30.0, 301)
    for c in range(1, 25):
        for x in xs:
            f_x = exponential_penalty(x)
            assert (c + 1) * exponential_penalty(x + c) <= f_x * (1 + 1e-12)
    # A gentler rate breaks the condition at c = 1: the check can fail.
    assert 2 * exponential_penalty(1.0, 0.5) > exponential_penalty(0.0, 0.5)


def test_similarity_is_validated_and_read_in_either_direction():
    assert similarity_sums(["a", "b", "c"], {"a": {"b": 0.5}, "c": {"a": 0.25}}) == {
        "a": 0.75,
        "b": 0.5,
        "c": 0.25,
    }
    assert penalty_factors(["a", "b"], {"b": {"a": 1.0}}) == {
        "a": Fraction(1, 2),
        "b": Fraction(1, 2),
    }
    assert penalty_factors(["a", "b"], {"a": {"b": 1.0}}, lam=0.0) == {"a": 1, "b": 1}
    for bad in ({"a": {"b": 1.5}}, {"a": {"b": -0.1}}, {"a": {"b": 0.2}, "b": {"a": 0.3}}):
        with pytest.raises(ValueError):
            similarity_sums(["a", "b"], bad)
    with pytest.raises(ValueError):
        penalty_factors(["a"], {}, lam=-1.0)


@settings(max_examples=40, deadline=None)
@given(
    n_types=st.integers(2, 3),
    copies=st.integers(1, 2),
    seed=st.integers(0, 2**32 - 1),
)
def test_copying_ones_data_never_raises_ones_robust_share(n_types, copies, seed):
    """Theorem 5.4 on exact Shapley: A's total over its identities never grows."""
    rng = np.random.default_rng(seed)
    game = random_monotone_type_game(n_types, rng)
    cross = rng.uniform(0.0, 0.9, size=(n_types, n_types))
    cross = (cross + cross.T) / 2

    def robust_total_of_a(n_identities: int) -> Fraction:
        kind = {f"A{i}": 0 for i in range(n_identities)}
        kind |= {f"T{t}": t for t in range(1, n_types)}
        players = sorted(kind)
        phi = shapley_by_permutations(players, lambda s: game({kind[p] for p in s}))
        shares = contribution_shares([Contribution(p, phi[p]) for p in players]).shares
        sim = {
            p: {q: (1.0 if kind[p] == kind[q] else float(cross[kind[p], kind[q]])) for q in players}
            for p in players
        }
        robust = robust_shares(shares, sim)
        return sum((s for p, s in robust.items() if p.startswith("A")), Fraction(0))

    assert robust_total_of_a(1 + copies) <= robust_total_of_a(1) + Fraction(1, 10**9)
