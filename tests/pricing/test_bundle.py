"""Bundle choice: sub-game Shapley, reserve-clearing prices and the surplus-maximising bundle."""

import itertools
import json
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.bundle import BundleChoice, choose_bundle, reserve_clearing_price, subgame_shapley
from pricing.money import fee
from pricing.settlement import settle
from tests.pricing.oracles import shapley_by_permutations


def _random_utilities(n: int, rng: np.random.Generator) -> dict[frozenset[str], float]:
    players = [f"p{i}" for i in range(n)]
    weight = dict(zip(players, rng.uniform(-0.01, 0.05, n)))
    pair = rng.uniform(-0.01, 0.01, (n, n))
    utilities = {}
    for k in range(n + 1):
        for s in itertools.combinations(range(n), k):
            u = 0.6 + sum(weight[players[i]] for i in s)
            u += sum(pair[i, j] for i, j in itertools.combinations(s, 2))
            utilities[frozenset(players[i] for i in s)] = float(u)
    return utilities


def _clearing_by_search(shares, reserves, bps, limit=10**7):
    """Smallest charge found by walking up; no charge below the largest reserve/share can do."""
    needs = [reserves.get(p, 0) / s for p, s in shares.items() if s > 0]
    if any(reserves.get(p, 0) > 0 and s == 0 for p, s in shares.items()):
        return None
    start = max([0, *(math.floor(n) for n in needs)])
    terms = [(s.numerator, reserves.get(p, 0) * s.denominator) for p, s in shares.items()]
    for charge in range(start, limit):
        pool = charge - charge * bps // 10_000
        if all(pool * num >= need for num, need in terms):
            return charge
    return None


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_subgame_shapley_matches_brute_force(n, seed):
    utilities = _random_utilities(n, np.random.default_rng(seed))
    players = frozenset().union(*utilities)
    for k in range(1, n + 1):
        sub = frozenset(sorted(players)[:k])
        got = subgame_shapley(utilities, sub)
        expected = shapley_by_permutations(sorted(sub), lambda s: utilities[frozenset(s)])
        assert got == pytest.approx(expected, abs=1e-12)
        assert math.fsum(got.values()) == pytest.approx(utilities[sub] - utilities[frozenset()])
    with pytest.raises(ValueError):
        subgame_shapley({frozenset(): 0.0}, {"a"})


@settings(max_examples=150, deadline=None)
@given(
    raw=st.lists(st.integers(1, 50), min_size=1, max_size=6),
    reserves=st.lists(st.integers(0, 400), min_size=6, max_size=6),
    bps=st.integers(0, 5_000),
)
def test_reserve_clearing_price_is_the_smallest_that_clears(raw, reserves, bps):
    total = sum(raw)
    shares = {f"p{i}": Fraction(w, total) for i, w in enumerate(raw)}
    res = {f"p{i}": reserves[i] for i in range(len(raw))}
    price = reserve_clearing_price(shares, res, fee_bps=bps)
    assert price == _clearing_by_search(shares, res, bps)
    if price:
        paid = settle(price, shares, fee_bps=bps).payouts
        assert all(paid[p] >= res[p] for p in shares)
        assert fee(price, bps) <= price


def test_reserve_clearing_price_impossible_cases():
    assert reserve_clearing_price({"a": Fraction(1)}, {"a": 10}, fee_bps=10_000) is None
    assert reserve_clearing_price({"a": Fraction(1), "b": Fraction(0)}, {"b": 1}, fee_bps=0) is None
    assert reserve_clearing_price({"a": Fraction(1)}, {}, fee_bps=10_000) == 0


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
    budget=st.integers(0, 3_000),
    bps=st.integers(0, 2_000),
)
def test_exhaustive_choice_matches_brute_force(n, seed, budget, bps):
    rng = np.random.default_rng(seed)
    utilities = _random_utilities(n, rng)
    players = sorted(frozenset().union(*utilities))
    reserves = {p: int(rng.integers(0, 400)) for p in players}
    cpp = 500
    choice = choose_bundle(
        utilities, reserves=reserves, budget_cents=budget, cents_per_point=cpp, fee_bps=bps
    )
    assert choice.method == "exhaustive"
    best_surplus, feasible = None, []
    for k in range(1, n + 1):
        for bundle in itertools.combinations(players, k):
            lift = utilities[frozenset(bundle)] - utilities[frozenset()]
            phi = shapley_by_permutations(list(bundle), lambda s: utilities[frozenset(s)])
            if lift <= 0 or min(phi.values()) <= 0:
                continue
            total = sum(Fraction(round(v * 10**12), 10**12) for v in phi.values())
            shares = {p: Fraction(round(v * 10**12), 10**12) / total for p, v in phi.items()}
            price = _clearing_by_search(shares, reserves, bps, limit=budget + 1)
            worth = math.floor(Fraction(round(lift * 10**12), 10**12) * 100 * cpp)
            if price is not None:
                feasible.append((price, lift))
                if worth >= price and (best_surplus is None or worth - price > best_surplus):
                    best_surplus = worth - price
    if best_surplus is None:
        assert choice.best is None
    else:
        assert choice.best.surplus_cents == best_surplus
        assert choice.best.price_cents <= budget
    prices = [p.price_cents for p in choice.curve]
    lifts = [p.lift for p in choice.curve]
    assert prices == sorted(prices) and lifts == sorted(lifts) and len(set(lifts)) == len(lifts)
    for price, lift in feasible:
        assert any(p.price_cents <= price and p.lift >= lift - 1e-12 for p in choice.curve)
    assert BundleChoice.from_dict(json.loads(json.dumps(choice.to_dict()))) == choice


def test_greedy_uses_only_cached_coalitions_and_never_beats_exhaustive():
    rng = np.random.default_rng(5)
    utilities = _random_utilities(5, rng)
    players = sorted(frozenset().union(*utilities))
    values = subgame_shapley(utilities, frozenset(players))
    # Without reserves every bundle's price is 0 under both searches, so surpluses compare.
    free = dict(reserves={}, budget_cents=2_000, cents_per_point=400, fee_bps=300)
    exhaustive = choose_bundle(utilities, **free)
    greedy = choose_bundle(utilities, values=values, exhaustive_limit=3, **free)
    assert greedy.method == "greedy"
    assert exhaustive.best is not None and greedy.best is not None
    assert greedy.best.surplus_cents <= exhaustive.best.surplus_cents
    # With reserves the greedy prices a bundle from the full-game values, renormalised.
    reserves = {p: 50 for p in players}
    priced = choose_bundle(
        utilities, values=values, exhaustive_limit=3, **{**free, "reserves": reserves}
    )
    best = priced.best
    positive = {p: Fraction(round(values[p] * 10**12), 10**12) for p in best.bundle}
    shares = {p: v / sum(positive.values()) for p, v in positive.items()}
    assert best.price_cents == _clearing_by_search(shares, reserves, 300)
    # A cache of permutation prefixes only: the greedy walk must stay on it.
    prefixes = {frozenset(players[:k]) for k in range(len(players) + 1)}
    sparse = {s: utilities[s] for s in prefixes}
    walk = choose_bundle(sparse, values=values, **free)
    assert walk.method == "greedy"
    assert all(frozenset(p.bundle) in prefixes for p in walk.curve)
    with pytest.raises(ValueError):
        choose_bundle(sparse, **free)


def test_additive_game_without_reserves_buys_every_helpful_provider():
    gains = {"a": 0.03, "b": 0.02, "c": -0.01}
    utilities = {
        frozenset(s): 0.5 + sum(gains[p] for p in s)
        for k in range(4)
        for s in itertools.combinations(gains, k)
    }
    for values in (None, gains):
        choice = choose_bundle(
            utilities,
            reserves={},
            budget_cents=10_000,
            cents_per_point=100,
            fee_bps=500,
            values=values,
            exhaustive_limit=10 if values is None else 0,
        )
        assert choice.best.bundle == ("a", "b")
        assert choice.best.price_cents == 0
        assert choice.best.value_cents == 500
