"""Bootstrap lift interval: seeded reproducibility, paired resampling and coverage."""

import numpy as np
import pytest

from pricing.lift import Lift, bootstrap_lift


def test_same_seed_same_interval_and_estimate_is_the_mean_difference():
    rng = np.random.default_rng(0)
    bundle = (rng.random(500) < 0.8).astype(float)
    baseline = (rng.random(500) < 0.7).astype(float)
    a = bootstrap_lift(bundle, baseline, n_resamples=500, random_state=7)
    b = bootstrap_lift(bundle, baseline, n_resamples=500, random_state=7)
    assert a == b
    assert a.estimate == pytest.approx(bundle.mean() - baseline.mean())
    assert a.lower < a.estimate < a.upper
    c = bootstrap_lift(bundle, baseline, n_resamples=500, random_state=8)
    assert c != a


def test_identical_models_have_no_lift_and_pairing_matters():
    scores = np.tile([1.0, 0.0], 100)
    assert bootstrap_lift(scores, scores, random_state=0) == Lift(0.0, 0.0, 0.0)
    # The bundle model is right exactly where the baseline is, plus on 10 more rows: the
    # paired difference is never negative, so no resample can show a negative lift.
    baseline = np.zeros(200)
    baseline[:100] = 1.0
    bundle = baseline.copy()
    bundle[100:110] = 1.0
    lift = bootstrap_lift(bundle, baseline, n_resamples=300, random_state=1)
    assert lift.lower >= 0.0


def test_interval_covers_the_true_lift_at_about_the_nominal_rate():
    rng = np.random.default_rng(2024)
    true_lift, n_rows, reps = 0.05, 300, 150
    hits = 0
    for _ in range(reps):
        baseline = (rng.random(n_rows) < 0.70).astype(float)
        bundle = (rng.random(n_rows) < 0.70 + true_lift).astype(float)
        lift = bootstrap_lift(bundle, baseline, n_resamples=400, random_state=rng)
        hits += lift.lower <= true_lift <= lift.upper
    assert 0.85 <= hits / reps <= 1.0


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError):
        bootstrap_lift([1.0, 0.0], [1.0])
    with pytest.raises(ValueError):
        bootstrap_lift([], [])
    with pytest.raises(ValueError):
        bootstrap_lift([1.0, np.nan], [1.0, 0.0])
    with pytest.raises(ValueError):
        bootstrap_lift([1.0], [0.0], confidence=1.0)
    with pytest.raises(ValueError):
        Lift(0.1, 0.2, 0.0)


def test_lift_round_trips_and_shifts():
    lift = Lift(0.05, 0.02, 0.08, 0.9)
    assert Lift.from_dict(lift.to_dict()) == lift
    assert lift.shifted(-0.02) == Lift(0.05 - 0.02, 0.0, 0.08 - 0.02, 0.9)
