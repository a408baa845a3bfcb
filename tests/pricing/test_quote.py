"""Lift pricing quotes: conservation, budget, reserves, pruning, replication and serialisation."""

import itertools
import json
import math
import random
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.lift import Lift
from pricing.quote import QUOTE_VERSION, BundleValuation, Quote, lift_value_cents, quote
from pricing.settlement import CONSUMER, PLATFORM_RESERVE
from pricing.shares import BELOW_RESERVE, DEFAULT_Z, HARMFUL, Contribution
from tests.pricing.oracles import random_monotone_type_game, shapley_by_permutations


@st.composite
def quote_inputs(draw):
    n = draw(st.integers(1, 8))
    ids = [f"p{i}" for i in range(n)]
    contributions = [
        Contribution(
            pid,
            draw(st.floats(-0.05, 0.1, allow_nan=False)),
            draw(st.floats(0.0, 0.03, allow_nan=False)),
            draw(st.one_of(st.just(0), st.integers(0, 500))),
        )
        for pid in ids
    ]
    estimate = draw(st.floats(-0.02, 0.3, allow_nan=False))
    half = draw(st.floats(0.0, 0.05, allow_nan=False))
    similarity = None
    if draw(st.booleans()):
        similarity = {a: {} for a in ids}
        for a, b in itertools.combinations(ids, 2):
            similarity[a][b] = draw(st.floats(0.05, 1.0, allow_nan=False))
    return dict(
        valuation=BundleValuation(
            tuple(contributions), Lift(estimate, estimate - half, estimate + half)
        ),
        budget_cents=draw(st.integers(0, 100_000)),
        cents_per_point=draw(st.integers(0, 5_000)),
        fee_bps=draw(st.integers(0, 3_000)),
        similarity=similarity,
        penalty_destination=draw(st.sampled_from([CONSUMER, PLATFORM_RESERVE])),
    )


def _check_money(q: Quote, inputs: dict) -> None:
    s = q.settlement
    assert (
        s.charge_cents == sum(q.payouts.values()) + s.fee_cents + s.withheld_cents + s.refund_cents
    )
    assert 0 <= q.charge_cents <= inputs["budget_cents"]
    assert q.refund_cents <= q.charge_cents
    assert all(cents >= 0 for cents in q.payouts.values())
    by_id = {c.provider_id: c for c in inputs["valuation"].contributions}
    for pid, c in by_id.items():
        if c.value + DEFAULT_Z * c.stderr < 0:
            assert q.excluded.get(pid) == HARMFUL
            assert pid not in q.bundle
    if q.sale:
        assert set(q.payouts) == set(q.bundle) and q.bundle
        assert not set(q.bundle) & set(q.excluded)
        for pid in q.bundle:
            assert q.payouts[pid] >= by_id[pid].reserve_cents
        assert q.lift.lower > 0
        assert q.charge_cents == min(inputs["budget_cents"], q.value_cents) > 0
        assert len(q.explanation) >= 7
        paid = {
            line.provider: line.numbers["payout_cents"]
            for line in q.explanation
            if line.kind == "provider"
        }
        assert paid == q.payouts  # one keyed line per payout, quoting it
        (check,) = [line for line in q.explanation if line.kind == "check"]
        assert check.numbers["charge_cents"] == q.charge_cents
    else:
        assert q.reason and q.charge_cents == 0 and q.payouts == {}
        assert q.explanation[-1].kind == "no_sale"
    left_out = {line.provider for line in q.explanation if line.kind == "left_out"}
    assert left_out == set(q.excluded)
    assert Quote.from_dict(q.to_dict()) == q


@settings(max_examples=150, deadline=None)
@given(inputs=quote_inputs(), seed=st.integers(0, 2**32 - 1))
def test_quote_conserves_money_and_respects_budget_and_reserves(inputs, seed):
    q = quote(**inputs)
    _check_money(q, inputs)
    # Input order never matters.
    contributions = list(inputs["valuation"].contributions)
    random.Random(seed).shuffle(contributions)
    shuffled = {
        **inputs,
        "valuation": BundleValuation(tuple(contributions), inputs["valuation"].lift),
    }
    assert quote(**shuffled) == q
    # JSON round trips.
    assert Quote.from_dict(json.loads(json.dumps(q.to_dict()))) == q
    valuation = inputs["valuation"]
    assert BundleValuation.from_dict(json.loads(json.dumps(valuation.to_dict()))) == valuation
    # The outcome is stable: quoting the final bundle again changes nothing.
    if q.sale:
        kept = tuple(c for c in contributions if c.provider_id in q.bundle)
        again = quote(**{**inputs, "valuation": BundleValuation(kept, q.lift)})
        assert again.settlement == q.settlement and not again.excluded


@settings(max_examples=100, deadline=None)
@given(
    lower=st.decimals(min_value="0.0001", max_value="0.5", places=4),
    cpp=st.integers(1, 5_000),
    budget=st.integers(0, 10**7),
)
def test_price_is_the_worth_of_the_lower_bound_capped_by_the_budget(lower, cpp, budget):
    expected = min(budget, math.floor(lower * 100 * cpp))
    valuation = BundleValuation(
        (Contribution("a", 0.02),), Lift(float(lower) + 0.01, float(lower), 0.6)
    )
    q = quote(valuation, budget_cents=budget, cents_per_point=cpp, fee_bps=0)
    assert q.charge_cents == expected
    assert q.sale == (expected > 0)
    assert lift_value_cents(float(lower), cpp) == math.floor(lower * 100 * cpp)


def test_no_sale_reasons():
    good = (Contribution("a", 0.02), Contribution("b", 0.01))
    uncertain = quote(
        BundleValuation(good, Lift(0.03, -0.001, 0.06)),
        budget_cents=10**4,
        cents_per_point=100,
        fee_bps=0,
    )
    assert not uncertain.sale and "lower bound" in uncertain.reason
    harmful = quote(
        BundleValuation(
            (Contribution("a", -0.02, 0.001), Contribution("b", 0.0)), Lift(0.03, 0.01, 0.05)
        ),
        budget_cents=10**4,
        cents_per_point=100,
        fee_bps=0,
    )
    assert not harmful.sale and harmful.bundle == () and set(harmful.excluded) == {"a", "b"}
    reserves = (
        Contribution("a", 0.02, reserve_cents=900),
        Contribution("b", 0.02, reserve_cents=900),
    )
    pricey = quote(
        BundleValuation(reserves, Lift(0.05, 0.045, 0.055)),
        budget_cents=10**4,
        cents_per_point=10,
        fee_bps=0,
    )
    # Worth 45 cents: neither provider can get 900, even alone.
    assert not pricey.sale and "reserve" in pricey.reason
    assert pricey.excluded == {"a": BELOW_RESERVE, "b": BELOW_RESERVE}
    empty = quote(
        BundleValuation((), Lift(0.0, 0.0, 0.0)), budget_cents=1, cents_per_point=1, fee_bps=0
    )
    assert not empty.sale
    cheap = quote(
        BundleValuation(good, Lift(0.03, 0.001, 0.05)),
        budget_cents=10**4,
        cents_per_point=0,
        fee_bps=0,
    )
    assert not cheap.sale and "cent" in cheap.reason


def _game_revaluer(v, half_width, calls):
    def revalue(bundle):
        calls.append(bundle)
        players = sorted(bundle)
        phi = shapley_by_permutations(players, v)
        lift = v(frozenset(bundle)) - v(frozenset())
        return BundleValuation(
            tuple(Contribution(p, phi[p]) for p in players),
            Lift(lift, lift - half_width, lift + half_width),
        )

    return revalue


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), budget=st.integers(1, 50_000))
def test_reserves_trigger_revaluation_until_stable(seed, budget):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 6))
    players = [f"p{i}" for i in range(n)]
    weight = dict(zip(players, rng.uniform(-0.02, 0.08, n)))
    synergy = rng.uniform(-0.01, 0.02)

    def v(s):
        # Additive values plus a pairwise synergy: some providers help, some hurt. (Summed in
        # a fixed order: a set built another way may iterate in another, and float sums differ.)
        return 0.7 + sum(weight[p] for p in sorted(s)) + synergy * len(s) * (len(s) - 1) / 2

    reserves = {p: int(rng.integers(0, 1500)) for p in players}
    calls: list[frozenset[str]] = []
    revalue = _game_revaluer(v, 0.01, calls)
    first = revalue(frozenset(players))
    valuation = BundleValuation(
        tuple(
            Contribution(c.provider_id, c.value, reserve_cents=reserves[c.provider_id])
            for c in first.contributions
        ),
        first.lift,
    )
    calls.clear()
    q = quote(valuation, budget_cents=budget, cents_per_point=300, fee_bps=500, revalue=revalue)
    assert q.revaluations == len(calls)
    assert all(b < frozenset(players) for b in calls)
    if q.sale:
        assert all(q.payouts[p] >= reserves[p] for p in q.bundle)
        final = revalue(frozenset(q.bundle))
        assert q.lift == final.lift
        with_reserves = tuple(
            Contribution(c.provider_id, c.value, reserve_cents=reserves[c.provider_id])
            for c in final.contributions
        )
        again = quote(
            BundleValuation(with_reserves, final.lift),
            budget_cents=budget,
            cents_per_point=300,
            fee_bps=500,
        )
        assert again.settlement == q.settlement and not again.excluded


def test_a_revaluer_that_changes_the_bundle_is_refused():
    valuation = BundleValuation(
        (Contribution("a", 0.02), Contribution("b", -0.05, 0.001)), Lift(0.02, 0.01, 0.03)
    )
    with pytest.raises(ValueError):
        quote(
            valuation,
            budget_cents=100,
            cents_per_point=100,
            fee_bps=0,
            revalue=lambda bundle: valuation,
        )


@settings(max_examples=30, deadline=None)
@given(n_types=st.integers(2, 3), copies=st.integers(1, 2), seed=st.integers(0, 2**32 - 1))
def test_duplicating_data_never_raises_total_payout_beyond_rounding(n_types, copies, seed):
    rng = np.random.default_rng(seed)
    game = random_monotone_type_game(n_types, rng)
    cross = rng.uniform(0.0, 0.9, size=(n_types, n_types))
    cross = (cross + cross.T) / 2
    budget, fee_bps = int(rng.integers(100, 10**6)), int(rng.integers(0, 2000))

    def a_payout(n_identities):
        kind = {f"A{i}": 0 for i in range(n_identities)} | {f"T{t}": t for t in range(1, n_types)}
        players = sorted(kind)
        phi = shapley_by_permutations(players, lambda s: game({kind[p] for p in s}))
        lift = game(set(range(n_types))) - game(set())
        sim = {
            p: {
                q: 1.0 if kind[p] == kind[q] else float(cross[kind[p], kind[q]])
                for q in players
                if q != p
            }
            for p in players
        }
        q = quote(
            BundleValuation(
                tuple(Contribution(p, phi[p]) for p in players), Lift(lift, lift / 2, lift)
            ),
            budget_cents=budget,
            cents_per_point=10_000,
            fee_bps=fee_bps,
            similarity=sim,
        )
        return sum(c for p, c in q.payouts.items() if p.startswith("A"))

    # Exact quotas cannot grow (Theorem 5.4); each of the 1 + copies parts rounds by < 1 cent.
    assert a_payout(1 + copies) <= a_payout(1) + copies + 1


def test_penalty_destination_and_explanation():
    sim = {"a": {"b": 1.0}}
    valuation = BundleValuation(
        (Contribution("a", 0.02), Contribution("b", 0.02)), Lift(0.05, 0.04, 0.06)
    )
    to_reserve = quote(
        valuation,
        budget_cents=10**6,
        cents_per_point=100,
        fee_bps=1000,
        similarity=sim,
        penalty_destination=PLATFORM_RESERVE,
    )
    # 400 cents, fee 40, pool 360; each share 1/2 × 1/2: 90 + 90 paid, 180 withheld.
    assert to_reserve.payouts == {"a": 90, "b": 90}
    assert (to_reserve.withheld_cents, to_reserve.refund_cents) == (180, 0)
    refunded = quote(
        valuation, budget_cents=10**6, cents_per_point=100, fee_bps=1000, similarity=sim
    )
    assert (refunded.withheld_cents, refunded.refund_cents, refunded.net_charge_cents) == (
        0,
        180,
        220,
    )
    text = "\n".join(line.sentence for line in refunded.explanation)
    for number in ("400 cents", "40 cents", "360 cents", "90 cents", "180 cents", "220 cents"):
        assert number in text
    least_core = quote(
        valuation, budget_cents=10**6, cents_per_point=100, fee_bps=0, basis="least_core"
    )
    assert any("least-core payoff" in line.text for line in least_core.explanation)
    with pytest.raises(ValueError):
        quote(valuation, budget_cents=1, cents_per_point=1, fee_bps=0, basis="nucleolus")
    with pytest.raises(ValueError):
        quote(valuation, budget_cents=1, cents_per_point=1, fee_bps=10_001)


def test_decimal_lift_is_not_lost_to_binary_noise():
    # 0.29 is stored as 0.28999999999999998; the consumer's 2 900 cents must not become 2 899.
    assert lift_value_cents(0.29, 100) == 2900
    assert Decimal(0.29) < Decimal("0.29")


def test_explanations_use_display_names_when_given():
    valuation = BundleValuation(
        contributions=(
            Contribution("7", 0.05, reserve_cents=0),
            Contribution("9", -0.04, stderr=0.001),
        ),
        lift=Lift(0.05, 0.03, 0.07),
    )
    offer = quote(
        valuation,
        budget_cents=10_000,
        cents_per_point=100,
        fee_bps=1000,
        names={"7": "Clinic North (#7)", "9": "Noisy Labs (#9)"},
    )
    text = "\n".join(line.sentence for line in offer.explanation)
    assert "Left out Noisy Labs (#9): its data lowers your metric" in text
    assert "Bundle: Clinic North (#7)." in text
    assert "Clinic North (#7): share 100.00%" in text
    plain = quote(valuation, budget_cents=10_000, cents_per_point=100, fee_bps=1000)
    assert "Bundle: 7." in [line.sentence for line in plain.explanation]


def test_a_quote_of_another_version_is_refused_not_misread():
    valuation = BundleValuation((Contribution("7", 0.05),), Lift(0.05, 0.03, 0.07))
    stored = quote(valuation, budget_cents=10_000, cents_per_point=100, fee_bps=0).to_dict()
    assert stored["version"] == QUOTE_VERSION
    older = {**stored, "version": 1, "explanation": ["Bundle: 7."]}
    with pytest.raises(ValueError, match="version 1 quote"):
        Quote.from_dict(older)
    del older["version"]  # quotes stored before the version was written are version 1
    with pytest.raises(ValueError, match="version 1 quote"):
        Quote.from_dict(older)


def test_a_line_names_a_provider_exactly_when_it_is_about_one():
    from pricing.explanation import Line

    with pytest.raises(ValueError, match="names a provider"):
        Line("provider", "Clinic", "share 100%")
    with pytest.raises(ValueError, match="names a provider"):
        Line("bundle", "Bundle", "7.", provider="7")
    with pytest.raises(ValueError, match="unknown explanation line kind"):
        Line("vibes", "Vibes", "good")
