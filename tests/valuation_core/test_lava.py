"""LAVA: the oracle O8 (algorithms.md §3.7), calibrated-gradient properties, detection."""

from __future__ import annotations

import warnings

import numpy as np
import ot
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import xlogy
from sklearn.datasets import make_blobs, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score

from valuation.core import Dataset, fit_chunked
from valuation.core.methods.lava import LAVA, calibrated_gradient

O8_TRAIN = Dataset(np.array([0, 1, 0.5, 10, 11.0])[:, None], np.array([0, 0, 1, 1, 1]))
O8_VALID = Dataset(np.array([0.2, 0.8, 10.2, 10.8])[:, None], np.array([0, 0, 1, 1]))
O8_CG = [-1.4011, -1.4011, 79.4675, -38.0443, -38.6210]


def test_o8_label_distances_transport_cost_and_calibrated_gradients():
    lava = LAVA(transform=None, epsilon=0.1, tol=1e-12).fit(O8_TRAIN, O8_VALID)
    np.testing.assert_allclose(lava.label_distances_, [[0.04, 100.04], [64.8233, 31.49]], atol=1e-4)
    assert lava.transport_cost_ == pytest.approx(31.8298, abs=1e-4)
    np.testing.assert_allclose(lava.calibrated_gradients_, O8_CG, atol=1e-4)
    np.testing.assert_allclose(lava.result_.values, -np.array(O8_CG), atol=1e-4)
    # The mislabeled point ranks last; the two symmetric class-0 points tie.
    assert lava.result_.bottom(1).tolist() == [2]
    assert lava.calibrated_gradients_[0] == pytest.approx(lava.calibrated_gradients_[1])
    assert lava.n_utility_evaluations_ == 0


@pytest.mark.parametrize(
    ("params", "mislabeled"),
    [
        ({"epsilon": 1.0}, 78.9962),
        ({"epsilon": 0.01}, 79.5792),
        ({"feature_weight": 0.5, "label_weight": 0.25}, 31.5775),  # LAVA's own halving
    ],
)
def test_o8_variants(params, mislabeled):
    lava = LAVA(transform=None, tol=1e-12, **params).fit(O8_TRAIN, O8_VALID)
    assert lava.calibrated_gradients_[2] == pytest.approx(mislabeled, abs=1e-4)


def _entropic_cost(a: np.ndarray, b: np.ndarray, cost: np.ndarray, epsilon: float) -> float:
    """⟨π, C⟩ + ε KL(π ‖ a⊗b) at the optimum, solved by POT independently of LAVA."""
    with np.errstate(over="ignore"):
        plan = ot.sinkhorn(
            a, b, cost, reg=epsilon, method="sinkhorn_log", numItermax=10**6, stopThr=1e-14
        )
    kl = xlogy(plan, plan).sum() - xlogy(plan, np.outer(a, b)).sum()
    return float((plan * cost).sum() + epsilon * kl)


def test_calibrated_gradient_is_the_mass_moving_directional_derivative():
    lava = LAVA(transform=None, tol=1e-12).fit(O8_TRAIN, O8_VALID)
    x, xv = O8_TRAIN.X, O8_VALID.X
    cost = ot.dist(x, xv) + lava.label_distances_[O8_TRAIN.y][:, O8_VALID.y]
    a, b = np.full(5, 0.2), np.full(4, 0.25)
    h = 1e-5
    for i in range(5):
        # Mass h onto row i, taken evenly from the other four.
        direction = np.full(5, -1 / 4)
        direction[i] = 1.0
        slope = (
            _entropic_cost(a + h * direction, b, cost, 0.1)
            - _entropic_cost(a - h * direction, b, cost, 0.1)
        ) / (2 * h)
        assert slope == pytest.approx(lava.calibrated_gradients_[i], abs=1e-4)


@given(
    arrays(np.float64, st.integers(2, 30), elements=st.floats(-1e3, 1e3)),
    st.floats(-1e4, 1e4),
)
def test_calibrated_gradient_sums_to_zero_and_ignores_constants(potential, shift):
    cg = calibrated_gradient(potential)
    scale = 1 + np.abs(potential).max()
    assert abs(cg.sum()) <= 1e-9 * scale * potential.size
    np.testing.assert_allclose(calibrated_gradient(potential + shift), cg, atol=1e-8 * scale)
    n = potential.size
    i = int(np.argmax(potential))
    by_definition = potential[i] - (potential.sum() - potential[i]) / (n - 1)
    assert cg[i] == pytest.approx(by_definition, abs=1e-9 * scale * n)


def test_fitted_values_sum_to_zero_and_follow_feature_translation():
    X, y = make_classification(60, 4, n_informative=3, n_redundant=0, random_state=1)
    Xv, yv = make_classification(30, 4, n_informative=3, n_redundant=0, random_state=2)
    lava = LAVA(transform=None).fit(Dataset(X, y), Dataset(Xv, yv))
    assert abs(lava.result_.values.sum()) < 1e-9
    shifted = LAVA(transform=None).fit(Dataset(X + 5, y), Dataset(Xv + 5, yv))
    np.testing.assert_allclose(shifted.result_.values, lava.result_.values, atol=1e-6)


def _flipped(seed: int, n_train: int, n_valid: int, rate: float):
    """Train and validation rows of one 3-class blob problem; some train labels flipped."""
    X, y = make_blobs(
        n_train + n_valid, n_features=5, centers=3, cluster_std=2.0, random_state=seed
    )
    rng = np.random.default_rng(seed)
    flipped = rng.random(n_train) < rate
    noisy = y[:n_train].copy()
    noisy[flipped] = (noisy[flipped] + rng.integers(1, 3, flipped.sum())) % 3
    return Dataset(X[:n_train], noisy), Dataset(X[n_train:], y[n_train:]), flipped


def test_flipped_labels_rank_low():
    train, valid, flipped = _flipped(3, 240, 300, 0.15)
    lava = LAVA().fit(train, valid)
    assert roc_auc_score(flipped, -lava.result_.values) > 0.85


def test_groups_sum_rows_baseline_is_not_valued_and_chunks_agree():
    rows, valid, _ = _flipped(5, 60, 30, 0.1)
    X, noisy = rows.X, rows.y
    by_row = LAVA().fit(rows, valid)
    groups = np.arange(60) % 7
    train = Dataset(X, noisy, groups=groups)
    grouped = LAVA().fit(train, valid)
    for player in range(7):
        expected = by_row.result_.values[train.indices_of([player])].sum()
        assert grouped.result_.values[player] == pytest.approx(expected)
    with_baseline = LAVA(transform=None).fit(
        Dataset(X[10:], noisy[10:]), valid, baseline=Dataset(X[:10], noisy[:10])
    )
    assert with_baseline.result_.n_players == 50
    plain = LAVA(transform=None).fit(rows, valid)
    np.testing.assert_allclose(with_baseline.result_.values, plain.result_.values[10:])
    est = LAVA()
    assert est.n_units(train, valid) == 1
    chunked = fit_chunked(est, train, valid, chunks=[(0, 0), (0, 1)])
    np.testing.assert_allclose(chunked.values, grouped.result_.values)
    assert (chunked.stderr == 0).all()


def test_invalid_inputs_are_refused():
    with pytest.raises(ValueError, match="valid"):
        LAVA().fit(O8_TRAIN)
    with pytest.raises(ValueError, match="epsilon"):
        LAVA(epsilon=0).fit(O8_TRAIN, O8_VALID)


def test_more_than_a_thousand_rows_converge():
    # POT's stabilised Sinkhorn, warm-started on > 1,000 rows with its default absorption
    # threshold, absorbed at every step and never converged; LAVA must converge here.
    train, valid, flipped = _flipped(8, 1100, 60, 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        lava = LAVA(max_iter=20_000).fit(train, valid)
    assert np.isfinite(lava.result_.values).all()
    assert roc_auc_score(flipped, -lava.result_.values) > 0.7


def test_progress_reports_the_two_stages():
    calls = []
    LAVA(transform=None, progress=lambda f, info: calls.append((f, info["method"]))).fit(
        O8_TRAIN, O8_VALID
    )
    assert calls == [(0.5, "lava"), (1.0, "lava")]
