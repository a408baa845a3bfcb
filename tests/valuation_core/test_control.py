"""The ridge control of the row game: it is the game of a ridge classifier, computed from
coalition sums; RowShapley with it keeps every property of the row basis (oracle, honest
errors, efficiency, no identity moves a credit, chunks) with less noise."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_breast_cancer, load_digits, load_iris
from sklearn.linear_model import LogisticRegression, Ridge, RidgeClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tests.valuation_core.oracles import cancer, owner_sums
from valuation.core import Dataset, ExactShapley, ModelUtility, RowShapley, fit_chunked
from valuation.core.control import RidgeControl, tracks
from valuation.core.games import AdditiveGame
from valuation.core.methods import rows

RIDGE = make_pipeline(StandardScaler(), RidgeClassifier(alpha=10.0))
LOGISTIC = make_pipeline(StandardScaler(), LogisticRegression())


def shuffled(loader, seed: int = 0):
    X, y = loader(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    return X[order], y[order]


@pytest.mark.parametrize(
    ("loader", "baseline", "floor", "min_rows"),
    [
        (load_breast_cancer, 0, False, None),  # two classes: one ±1 column
        (load_digits, 0, False, None),  # ten classes, constant pixels in small coalitions
        (load_iris, 0, True, 4),  # floored, and too few rows means the constant predictor
        (load_digits, 30, True, None),  # the buyer's rows in every coalition
    ],
)
def test_the_control_is_the_game_of_a_ridge_classifier(loader, baseline, floor, min_rows):
    X, y = shuffled(loader)
    n = min(200, len(y) - 60 - baseline)
    train, valid = Dataset(X[:n], y[:n]), Dataset(X[n : n + 60], y[n : n + 60])
    rest = slice(n + 60, n + 60 + baseline)
    own = Dataset(X[rest], y[rest]) if baseline else None
    game = ModelUtility(RIDGE, "accuracy", floor=floor, min_rows=min_rows).bind(train, valid, own)
    rng = np.random.default_rng(1)
    sizes = [0, 1, 2, 3, n] + list(rng.integers(0, 12, 40)) + list(rng.integers(0, n + 1, 80))
    members = [np.sort(rng.choice(n, size, replace=False)) for size in sizes]
    wanted = [game.utility(tuple(m.tolist())) for m in members]
    np.testing.assert_allclose(RidgeControl(game)(members), wanted, rtol=0, atol=1e-12)


def test_the_control_sums_rows_block_by_block(monkeypatch):
    X, y = shuffled(load_breast_cancer)
    game = ModelUtility(RIDGE, "accuracy").bind(
        Dataset(X[:300], y[:300]), Dataset(X[300:], y[300:])
    )
    members = [np.sort(np.random.default_rng(s).choice(300, 150, replace=False)) for s in range(5)]
    whole = RidgeControl(game).sums(members)
    monkeypatch.setattr("valuation.core.control._BLOCK_ROWS", 64)
    monkeypatch.setattr("valuation.core.control._KEPT_PRODUCTS", 0)
    np.testing.assert_allclose(RidgeControl(game).sums(members), whole, rtol=1e-12, atol=1e-9)


def test_only_linear_classifiers_scored_by_accuracy_get_a_control():
    X, y, Xv, yv = cancer(30)
    train, valid = Dataset(X, y), Dataset(Xv, yv)
    assert tracks(ModelUtility(LOGISTIC, "accuracy").bind(train, valid))
    assert tracks(ModelUtility(RIDGE, "accuracy").bind(train, valid))
    assert not tracks(ModelUtility(LOGISTIC, "neg_brier").bind(train, valid))
    assert not tracks(ModelUtility(GaussianNB(), "accuracy").bind(train, valid))
    regression = Dataset(X, X[:, 0].copy()), Dataset(Xv, Xv[:, 0].copy())
    assert not tracks(ModelUtility(Ridge(), "r2").bind(*regression))
    assert not tracks(AdditiveGame([1.0, 2.0]))


# --- RowShapley with the control ----------------------------------------------------------


def with_control(X, y, Xv, yv, owners=None, **params):
    params = {"model": LOGISTIC, "scorer": "accuracy", "random_state": 0, **params}
    return RowShapley(**params).fit(Dataset(X, y, groups=owners), Dataset(Xv, yv))


@pytest.fixture(scope="module")
def ten_logistic():
    """Ten rows, three owners, and the exact values of their logistic-regression game."""
    X, y, Xv, yv = cancer(10, seed=6)
    owners = np.array(["a", "a", "a", "a", "b", "b", "b", "c", "c", "c"])
    exact = ExactShapley(model=LOGISTIC, scorer="accuracy").fit(Dataset(X, y), Dataset(Xv, yv))
    return X, y, Xv, yv, owners, exact.result_.values


def test_with_the_control_totals_are_within_their_reported_error_of_the_exact_ones(ten_logistic):
    X, y, Xv, yv, owners, exact = ten_logistic
    truth = owner_sums(exact, owners)
    z = []
    for seed in range(8):
        est = with_control(X, y, Xv, yv, owners, random_state=seed, budget=320, n_strata=4)
        assert est.n_control_evaluations_ > 0
        z.append((est.result_.values - truth) / est.result_.stderr)
    z = np.abs(np.array(z))
    assert z.max() < 4.5, "no estimate is far outside its error bar"
    assert 0.3 < z.mean() < 1.3, "the error bars are neither too wide nor too narrow"


def test_the_control_lowers_the_noise_of_the_owners_totals():
    # Measured: the control's errors are 0.35-0.45 of the plain estimator's here.
    X, y, Xv, yv = cancer(100, n_valid=150, seed=8)
    owners = np.repeat(["a", "b", "c", "d", "e"], 20)
    design = {"budget": 512, "n_strata": 8, "coalitions_per_stratum": 4}
    seeds = range(4)
    plain = [
        with_control(X, y, Xv, yv, owners, random_state=s, control_rounds=0, **design)
        for s in seeds
    ]
    ridge = [with_control(X, y, Xv, yv, owners, random_state=s, **design) for s in seeds]
    spread = {
        name: np.std([r.result_.values for r in runs], axis=0, ddof=1).max()
        for name, runs in (("plain", plain), ("ridge", ridge))
    }
    reported = {
        name: np.mean([r.result_.stderr.max() for r in runs])
        for name, runs in (("plain", plain), ("ridge", ridge))
    }
    assert reported["ridge"] < 0.6 * reported["plain"]
    assert spread["ridge"] < 0.7 * spread["plain"]
    # The same game: both estimate the same totals.
    gap = np.mean([r.result_.values for r in ridge], 0) - np.mean(
        [r.result_.values for r in plain], 0
    )
    assert np.all(np.abs(gap) < 3 * reported["plain"] / np.sqrt(len(seeds)))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(owners=st.lists(st.integers(0, 5), min_size=16, max_size=16), seed=st.integers(0, 2**16))
def test_with_the_control_no_assignment_of_owners_moves_a_credit(owners, seed):
    X, y, Xv, yv = cancer(16, seed=4)
    design = {"budget": 96, "n_strata": 3, "random_state": seed}
    alone = with_control(X, y, Xv, yv, **design)
    owned = with_control(X, y, Xv, yv, np.array(owners), **design)
    np.testing.assert_array_equal(owned.row_result_.values, alone.row_result_.values)
    gain = owned.result_.total_gain
    assert owned.result_.values.sum() == pytest.approx(gain, abs=1e-9)
    assert owned.row_result_.values.sum() == pytest.approx(gain, abs=1e-9)


def test_with_the_control_chunks_merge_to_the_unchunked_run(ten_logistic):
    X, y, Xv, yv, owners, _ = ten_logistic
    est = RowShapley(model=LOGISTIC, scorer="accuracy", random_state=3, budget=384, n_strata=4)
    train, valid = Dataset(X, y, groups=owners), Dataset(Xv, yv)
    whole = est.fit(train, valid).result_
    units = est.n_units(train)
    chunked = fit_chunked(est, train, valid, chunks=[(0, 2), (2, units - 1), (units - 1, units)])
    np.testing.assert_allclose(chunked.values, whole.values, atol=1e-12)
    np.testing.assert_allclose(chunked.stderr, whole.stderr, atol=1e-12)


def test_a_control_too_costly_for_the_run_is_not_drawn(monkeypatch):
    X, y, Xv, yv = cancer(40, seed=2)
    design = {"budget": 128, "n_strata": 4}
    without = with_control(X, y, Xv, yv, control_rounds=0, **design)
    monkeypatch.setattr(rows, "CONTROL_FLOPS", 1.0)
    capped = with_control(X, y, Xv, yv, **design)
    assert capped.n_control_evaluations_ == 0
    np.testing.assert_array_equal(capped.row_result_.values, without.row_result_.values)
