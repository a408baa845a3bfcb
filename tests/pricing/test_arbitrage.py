"""No-arbitrage: monotone and subadditive price lists pass, others are caught pair by pair."""

import itertools
import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.arbitrage import MONOTONE, SUBADDITIVE, ArbitrageViolation, arbitrage_violations

PROVIDERS = ("a", "b", "c", "d")
ALL = [
    frozenset(s) for k in range(len(PROVIDERS) + 1) for s in itertools.combinations(PROVIDERS, k)
]


@settings(max_examples=60, deadline=None)
@given(
    unit=st.lists(st.integers(0, 1000), min_size=4, max_size=4),
    curve=st.sampled_from(["add", "sqrt"]),
)
def test_additive_and_concave_prices_are_arbitrage_free(unit, curve):
    cost = dict(zip(PROVIDERS, unit))
    if curve == "add":
        prices = {s: sum(cost[p] for p in s) for s in ALL}
    else:
        # A concave function of an additive measure is monotone and subadditive.
        prices = {s: math.floor(100 * math.sqrt(sum(cost[p] for p in s))) for s in ALL}
    assert arbitrage_violations(prices) == []


@settings(max_examples=60, deadline=None)
@given(prices=st.lists(st.integers(0, 100), min_size=len(ALL), max_size=len(ALL)))
def test_reported_violations_are_real_and_complete(prices):
    listed = dict(zip(ALL, prices))
    found = arbitrage_violations(listed)
    expected_monotone = {
        (tuple(sorted(a)), tuple(sorted(b)))
        for a in ALL
        for b in ALL
        if a < b and listed[a] > listed[b]
    }
    expected_sub = {
        frozenset([tuple(sorted(a)), tuple(sorted(b))])
        for a, b in itertools.combinations(ALL, 2)
        if listed[a | b] > listed[a] + listed[b]
    }
    assert {(v.first, v.second) for v in found if v.kind == MONOTONE} == expected_monotone
    assert {frozenset([v.first, v.second]) for v in found if v.kind == SUBADDITIVE} == expected_sub
    assert all(v.excess_cents > 0 for v in found)
    restored = [ArbitrageViolation.from_dict(json.loads(json.dumps(v.to_dict()))) for v in found]
    assert restored == found


def test_superadditive_and_decreasing_lists_are_caught():
    square = {s: 10 * len(s) ** 2 for s in ALL}
    kinds = {v.kind for v in arbitrage_violations(square)}
    assert kinds == {SUBADDITIVE}
    falling = {s: 100 - 10 * len(s) for s in ALL}
    kinds = {v.kind for v in arbitrage_violations(falling)}
    assert MONOTONE in kinds
    one = arbitrage_violations({frozenset("a"): 5, frozenset("ab"): 3})
    assert [v.to_dict() for v in one] == [
        {
            "kind": MONOTONE,
            "first": ["a"],
            "second": ["a", "b"],
            "union": ["a", "b"],
            "excess_cents": 2,
        }
    ]
