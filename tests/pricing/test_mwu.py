"""Multiplicative-weights prices: valid distributions, seeded draws, persistence and regret."""

import json
import math

import numpy as np
import pytest

from pricing.mechanisms.mwu import MultiplicativeWeightsPricer, regret_bound


def ramp_revenue(prices, bid):
    """RF*(c, b) for h_c(z) = min(z/c, 1): b²/(2c) below the price, c/2 above (0 at c = 0)."""
    c = np.asarray(prices, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        below = np.where(c > 0, bid**2 / (2 * c), 0.0)
    return np.where(bid < c, below, c / 2)


def synthetic_bids(n, seed):
    """Bids whose best price drifts: three regimes, plus noise."""
    rng = np.random.default_rng(seed)
    centre = np.where(np.arange(n) % 300 < 100, 0.3, np.where(np.arange(n) % 300 < 200, 0.8, 0.55))
    return np.clip(centre + rng.normal(0.0, 0.1, n), 0.0, 1.0)


def run(n, seed=0):
    """Expected average regret (against the best grid price and a 10× finer grid)."""
    pricer = MultiplicativeWeightsPricer(b_max=1.0, n_rounds=n, lipschitz=0.5, random_state=seed)
    pricer.probabilities()
    prices = pricer.prices_
    fine = np.linspace(0.0, 1.0, 10 * prices.size)
    earned = 0.0
    totals, fine_totals = np.zeros(prices.size), np.zeros(fine.size)
    for bid in synthetic_bids(n, seed):
        revenue = ramp_revenue(prices, bid)
        earned += float(pricer.probabilities() @ revenue)
        totals += revenue
        fine_totals += ramp_revenue(fine, bid)
        pricer.partial_fit(revenue)
    return pricer, (totals.max() - earned) / n, (fine_totals.max() - earned) / n


def test_regret_is_within_the_bound_and_shrinks_with_n():
    regrets = {}
    for n in (200, 800, 3_200):
        pricer, grid_regret, fine_regret = run(n)
        k = pricer.prices_.size
        eps = pricer.prices_[1] - pricer.prices_[0]
        assert eps <= 1 / (0.5 * math.sqrt(n)) + 1e-12
        assert grid_regret <= regret_bound(n, k, 1.0)
        assert fine_regret <= regret_bound(n, k, 1.0, lipschitz=0.5, epsilon=eps)
        regrets[n] = grid_regret
    assert regrets[3_200] < regrets[800] < regrets[200]
    assert regret_bound(3_200, 50, 1.0) < regret_bound(200, 50, 1.0)


def test_weights_stay_positive_and_probabilities_sum_to_one():
    pricer, _, _ = run(3_200)
    p = pricer.probabilities()
    assert np.all(p > 0)
    assert math.isclose(p.sum(), 1.0, rel_tol=0, abs_tol=1e-12)
    assert np.all(np.isfinite(pricer.log_weights_))


def test_draws_are_reproducible_and_survive_a_save():
    a = MultiplicativeWeightsPricer(b_max=2.0, n_rounds=100, random_state=42)
    b = MultiplicativeWeightsPricer(b_max=2.0, n_rounds=100, random_state=42)
    bids = synthetic_bids(60, 1) * 2.0
    posted_a, posted_b = [], []
    for i, bid in enumerate(bids):
        posted_a.append(a.post_price())
        assert a.post_price() == posted_a[-1]
        a.partial_fit(ramp_revenue(a.prices_, bid))
        if i == 30:
            b = MultiplicativeWeightsPricer.from_dict(json.loads(json.dumps(b.to_dict())))
        posted_b.append(b.post_price())
        b.partial_fit(ramp_revenue(b.prices_, bid))
    assert posted_a == posted_b
    assert len(set(posted_a)) > 1
    assert all(0.0 <= p <= 2.0 for p in posted_a)
    other = MultiplicativeWeightsPricer(b_max=2.0, n_rounds=100, random_state=43)
    posted_other = []
    for bid in bids:
        posted_other.append(other.post_price())
        other.partial_fit(ramp_revenue(other.prices_, bid))
    assert posted_other != posted_a
    fresh = MultiplicativeWeightsPricer(b_max=2.0, n_rounds=100)
    saved = fresh.to_dict()
    assert MultiplicativeWeightsPricer.from_dict(saved).post_price() == fresh.post_price()


def test_bad_parameters_and_revenues_are_rejected():
    pricer = MultiplicativeWeightsPricer(b_max=1.0, n_rounds=16, random_state=0)
    with pytest.raises(ValueError):
        pricer.partial_fit(np.zeros(3))
    with pytest.raises(ValueError):
        pricer.partial_fit(np.full(pricer.prices_.size, 2.0))
    for bad in (
        dict(b_max=0.0, n_rounds=10),
        dict(b_max=1.0, n_rounds=0),
        dict(b_max=1.0, n_rounds=10, delta=2.0),
    ):
        with pytest.raises(ValueError):
            MultiplicativeWeightsPricer(**bad).probabilities()
