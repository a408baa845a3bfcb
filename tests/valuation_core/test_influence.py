"""Influence and AMIP: the zaminfluence oracle O7, finite differences, refits.

Finite differences refit independently (scikit-learn with ``sample_weight``, or the stated
objective minimised by scipy), so they check both the closed forms and the fits.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import logsumexp
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

from valuation.core import Dataset, fit_chunked
from valuation.core.methods.influence import (
    AMIP,
    AMIPResult,
    Influence,
    approximate_perturbation,
)

STEP = 1e-4


def _regression(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    X = rng.normal(size=(n, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]) + 0.3 + rng.normal(size=n)


def _classification(rng, n: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    X = rng.normal(size=(n, 3))
    logits = X @ rng.normal(size=(3, n_classes))
    y = (logits + rng.gumbel(size=logits.shape)).argmax(axis=1)
    return X, y


def _sklearn_fit(model: str, alpha: float, X, y, w):
    """Intercept and coefficients of the reference fit with sample weights."""
    if model == "ols":
        fitted = LinearRegression().fit(X, y, sample_weight=w)
    elif model == "ridge":
        fitted = Ridge(alpha=alpha, solver="cholesky").fit(X, y, sample_weight=w)
    else:
        fitted = LogisticRegression(C=1 / alpha, solver="newton-cholesky", tol=1e-14)
        fitted.fit(X, y, sample_weight=w)
    return np.append(np.ravel(fitted.coef_), np.ravel(fitted.intercept_)[0]), fitted


def _validation_loss(model: str, fitted, Xv, yv) -> float:
    if model == "logistic":
        p = fitted.predict_proba(Xv)[np.arange(len(yv)), yv]
        return float(-np.log(p).mean())
    return float(((yv - fitted.predict(Xv)) ** 2).mean())


# --- O7: the mean model of algorithms.md §5.7 ---------------------------------------------


def test_o7_influence_scores_and_signals():
    data = Dataset(np.ones((5, 1)), np.array([3, -1, -1, -1, 0.5]))
    amip = AMIP(model="ols", fit_intercept=False).fit(data)
    assert amip.coef_[0] == pytest.approx(0.1)
    assert amip.stderr_[0] == pytest.approx(np.sqrt(3.05 / 5))
    np.testing.assert_allclose(amip.coef_influence_[:, 0], [0.58, -0.22, -0.22, -0.22, 0.08])
    np.testing.assert_allclose(
        amip.stderr_influence_[:, 0],
        [0.19110, -0.03937, -0.03937, -0.03937, -0.07298],
        atol=5e-6,
    )
    sign = amip.result_.get("x0", "sign")
    assert (sign.k, sign.apip, sign.players) == (1, 1 / 5, (0,))
    assert sign.predicted == pytest.approx(0.1 - 0.58)
    assert sign.refit == pytest.approx(np.mean([-1, -1, -1, 0.5]))
    assert sign.confirmed is True
    both = amip.result_.get("x0", "both")
    assert both.quantity == "beta + z*se"
    assert both.original == pytest.approx(0.1 + 1.959964 * 0.781025, abs=1e-5)
    assert (both.k, both.apip, both.predicted, both.refit, both.confirmed) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert both.players == ()
    assert amip.n_utility_evaluations_ == 2  # the fit and the sign refit


def test_result_to_dict_is_json_safe():
    data = Dataset(np.ones((5, 1)), np.array([3, -1, -1, -1, 0.5]))
    result = AMIP(model="ols", fit_intercept=False).fit(data).result_
    restored = json.loads(json.dumps(result.to_dict()))
    assert restored["signals"][0]["apip"] == 0.2
    assert restored["signals"][2]["k"] is None
    assert AMIPResult.from_dict(restored) == result


# --- influence against finite differences ----------------------------------------------


@pytest.mark.parametrize("model", ["ols", "ridge", "logistic"])
def test_influence_matches_finite_differences(model):
    rng = np.random.default_rng(3)
    alpha = 0.7
    if model == "logistic":
        X, y = _classification(rng, 40, 2)
        Xv, yv = _classification(rng, 25, 2)
    else:
        X, y = _regression(rng, 40)
        Xv, yv = _regression(rng, 25)
    est = Influence(model=model, alpha=alpha).fit(Dataset(X, y), Dataset(Xv, yv))
    coef, _ = _sklearn_fit(model, alpha, X, y, np.ones(len(y)))
    np.testing.assert_allclose(est.coef_, coef, rtol=1e-7, atol=1e-9)
    values, coef_influence = [], []
    for i in range(len(y)):
        sides = []
        for sign in (1, -1):
            w = np.ones(len(y))
            w[i] += sign * STEP
            sides.append(_sklearn_fit(model, alpha, X, y, w))
        (up, fit_up), (down, fit_down) = sides
        coef_influence.append((up - down) / (2 * STEP))
        loss_change = _validation_loss(model, fit_up, Xv, yv) - _validation_loss(
            model, fit_down, Xv, yv
        )
        values.append(-loss_change / (2 * STEP))
    values = np.array(values)
    np.testing.assert_allclose(est.result_.values, values, rtol=1e-6, atol=1e-6 * abs(values).max())
    coef_influence = np.array(coef_influence)
    np.testing.assert_allclose(
        est.coef_influence_, coef_influence, rtol=1e-6, atol=1e-6 * abs(coef_influence).max()
    )


def _multinomial_objective(theta, X, codes, w, alpha, n_free):
    """Reference-class multinomial logistic loss with an unpenalised intercept (the spec)."""
    Z = np.column_stack([X, np.ones(len(X))])
    coef = theta.reshape(Z.shape[1], n_free)
    logits = np.column_stack([np.zeros(len(X)), Z @ coef])
    loss = w @ (logsumexp(logits, axis=1) - logits[np.arange(len(X)), codes])
    probs = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))[:, 1:]
    onehot = np.eye(n_free + 1)[codes][:, 1:]
    gradient = Z.T @ (w[:, None] * (probs - onehot))
    penalty = np.ones(Z.shape[1])
    penalty[-1] = 0
    loss += 0.5 * alpha * (penalty[:, None] * coef**2).sum()
    gradient += alpha * penalty[:, None] * coef
    return loss, gradient.ravel()


def test_multinomial_influence_matches_finite_differences():
    rng = np.random.default_rng(5)
    X, y = _classification(rng, 30, 3)
    Xv, yv = _classification(rng, 20, 3)
    alpha = 0.5
    est = Influence(model="logistic", alpha=alpha).fit(Dataset(X, y), Dataset(Xv, yv))
    assert est.param_names_[:2] == ["x0[1]", "x0[2]"]

    def solve(w):
        # Newton with an exact gradient and a finite-difference Hessian: independent of the
        # estimator's own solver, and converged far below the finite-difference step.
        theta = est.coef_.copy()
        for _ in range(30):
            gradient = _multinomial_objective(theta, X, y, w, alpha, 2)[1]
            hessian = np.column_stack(
                [
                    (
                        _multinomial_objective(theta + 1e-5 * e, X, y, w, alpha, 2)[1]
                        - _multinomial_objective(theta - 1e-5 * e, X, y, w, alpha, 2)[1]
                    )
                    / 2e-5
                    for e in np.eye(theta.size)
                ]
            )
            theta = theta - np.linalg.solve(hessian, gradient)
        assert np.abs(_multinomial_objective(theta, X, y, w, alpha, 2)[1]).max() < 1e-11
        return theta

    def validation_loss(theta):
        Zv = np.column_stack([Xv, np.ones(len(Xv))])
        logits = np.column_stack([np.zeros(len(Xv)), Zv @ theta.reshape(4, 2)])
        return float((logsumexp(logits, axis=1) - logits[np.arange(len(yv)), yv]).mean())

    np.testing.assert_allclose(solve(np.ones(len(y))), est.coef_, atol=1e-8)
    for i in (0, 7, 19):
        w_up, w_down = np.ones(len(y)), np.ones(len(y))
        w_up[i] += STEP
        w_down[i] -= STEP
        up, down = solve(w_up), solve(w_down)
        np.testing.assert_allclose(est.coef_influence_[i], (up - down) / (2 * STEP), atol=1e-6)
        value = -(validation_loss(up) - validation_loss(down)) / (2 * STEP)
        assert est.result_.values[i] == pytest.approx(value, abs=1e-6)


@pytest.mark.parametrize("model", ["ols", "logistic"])
def test_standard_error_influence_matches_finite_differences(model):
    rng = np.random.default_rng(11)
    X, y = _classification(rng, 50, 2) if model == "logistic" else _regression(rng, 50)
    est = AMIP(model=model, alpha=0.0, signals=("significance",)).fit(Dataset(X, y))

    def stderr(w):
        if model == "ols":
            coef, fitted = _sklearn_fit("ols", 0.0, X, y, w)
            Z = np.column_stack([X, np.ones(len(y))])
            residuals = y - fitted.predict(X)
            # σ̂² keeps N (zaminfluence's weight convention).
            sigma2 = (w * residuals**2).sum() / (len(y) - Z.shape[1])
            return np.sqrt(sigma2 * np.diag(np.linalg.inv(Z.T @ (w[:, None] * Z))))
        fitted = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-14)
        fitted.fit(X, y, sample_weight=w)
        Z = np.column_stack([X, np.ones(len(y))])
        p = fitted.predict_proba(X)[:, 1]
        return np.sqrt(np.diag(np.linalg.inv(Z.T @ ((w * p * (1 - p))[:, None] * Z))))

    np.testing.assert_allclose(est.stderr_, stderr(np.ones(len(y))), rtol=1e-7)
    for i in (0, 13, 42):
        w_up, w_down = np.ones(len(y)), np.ones(len(y))
        w_up[i] += STEP
        w_down[i] -= STEP
        expected = (stderr(w_up) - stderr(w_down)) / (2 * STEP)
        np.testing.assert_allclose(est.stderr_influence_[i], expected, rtol=1e-5, atol=1e-9)


# --- the chunk protocol, groups, baseline ------------------------------------------------


def test_chunked_equals_unchunked_and_groups_sum_rows():
    rng = np.random.default_rng(2)
    X, y = _classification(rng, 60, 2)
    Xv, yv = _classification(rng, 23, 2)
    valid = Dataset(Xv, yv)
    est = Influence(model="logistic", batch_size=5)
    whole = est.fit(Dataset(X, y), valid).result_
    assert est.n_units(Dataset(X, y), valid) == 23
    chunked = fit_chunked(est, Dataset(X, y), valid, chunks=[(0, 1), (1, 9), (9, 23)])
    np.testing.assert_allclose(chunked.values, whole.values, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(chunked.stderr, whole.stderr, rtol=1e-10)
    assert (whole.counts == 23).all()

    groups = rng.integers(0, 7, size=60)
    grouped = Influence(model="logistic").fit(Dataset(X, y, groups=groups), valid)
    rows = Dataset(X, y, groups=groups)
    for player in range(rows.n_players):
        members = rows.indices_of([player])
        assert grouped.result_.values[player] == pytest.approx(whole.values[members].sum())


def test_baseline_rows_are_fitted_but_not_valued():
    rng = np.random.default_rng(4)
    X, y = _regression(rng, 30)
    Xv, yv = _regression(rng, 10)
    est = Influence(model="ols").fit(
        Dataset(X[10:], y[10:]), Dataset(Xv, yv), baseline=Dataset(X[:10], y[:10])
    )
    everything = Influence(model="ols").fit(Dataset(X, y), Dataset(Xv, yv))
    assert est.result_.n_players == 20
    np.testing.assert_allclose(est.result_.values, everything.result_.values[10:])


def test_singular_design_and_separable_data_are_refused():
    X = np.column_stack([np.arange(6.0), 2 * np.arange(6.0)])
    with pytest.raises(ValueError, match="singular"):
        Influence(model="ols").fit(Dataset(X, np.arange(6.0)), Dataset(X, np.arange(6.0)))
    x = np.arange(6.0)[:, None]
    labels = (x[:, 0] > 2.5).astype(int)
    with pytest.raises(ValueError, match="converge|singular"):
        AMIP(model="logistic", alpha=0.0, signals=("sign",)).fit(Dataset(x, labels))


# --- AMIP: predicted changes confirmed by refit ------------------------------------------


def _fragile_regression() -> tuple[np.ndarray, np.ndarray]:
    """No slope in 200 rows, plus four far-out rows that make it positive."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=200)
    y = -0.05 * x + rng.normal(size=200)
    x = np.concatenate([x, [4.0, 4.5, 5.0, 5.5]])
    y = np.concatenate([y, [6.0, 7.0, 6.5, 8.0]])
    return x[:, None], y


def test_amip_sign_flip_is_confirmed_by_an_independent_refit():
    X, y = _fragile_regression()
    amip = AMIP(model="ols").fit(Dataset(X, y))
    assert amip.coef_[0] > 0
    sign = amip.result_.get("x0", "sign")
    assert sign.k is not None and sign.k <= 6
    assert set(sign.players) & {200, 201, 202, 203}
    keep = np.setdiff1d(np.arange(len(y)), sign.players)
    refit_slope = LinearRegression().fit(X[keep], y[keep]).coef_[0]
    assert sign.refit == pytest.approx(refit_slope)
    assert sign.confirmed is True and refit_slope < 0
    # The first-order prediction also crossed 0, by construction of the set.
    assert sign.predicted <= 0
    significance = amip.result_.get("x0", "significance")
    assert significance.k is not None and significance.k <= sign.k
    assert significance.confirmed is True


def _weak_logistic(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=n)
    return x[:, None], (rng.random(n) < 1 / (1 + np.exp(-0.25 * x))).astype(int)


def test_amip_logistic_sign_and_threshold_are_confirmed():
    X, y = _weak_logistic(np.random.default_rng(9), 300)
    amip = AMIP(model="logistic", signals=("sign", "both")).fit(Dataset(X, y))
    sign = amip.result_.get("x0", "sign")
    assert sign.k is not None and sign.confirmed is True
    keep = np.setdiff1d(np.arange(300), sign.players)
    refit = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12)
    assert sign.refit == pytest.approx(refit.fit(X[keep], y[keep]).coef_[0, 0], rel=1e-6)

    Xv, yv = _weak_logistic(np.random.default_rng(1), 50)
    full = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12).fit(X, y)
    current = float(-np.log(full.predict_proba(Xv)[np.arange(50), yv]).mean())
    threshold = current + 0.02
    moved = AMIP(model="logistic", signals=(), metric_threshold=threshold)
    moved.fit(Dataset(X, y), Dataset(Xv, yv))
    signal = moved.result_.get("validation_loss", "threshold")
    assert signal.original == pytest.approx(current - threshold)
    assert signal.k is not None and signal.confirmed is True
    keep = np.setdiff1d(np.arange(300), signal.players)
    refit.fit(X[keep], y[keep])
    refit_loss = float(-np.log(refit.predict_proba(Xv)[np.arange(50), yv]).mean())
    assert signal.refit == pytest.approx(refit_loss - threshold, rel=1e-6)
    assert refit_loss > threshold


def test_amip_drops_whole_groups():
    X, y = _fragile_regression()
    groups = np.concatenate([np.arange(200) % 50, [50, 50, 51, 51]])
    amip = AMIP(model="ols", signals=("sign",)).fit(Dataset(X, y, groups=groups))
    sign = amip.result_.get("x0", "sign")
    assert sign.apip == pytest.approx(sign.k / 52)
    assert sign.confirmed is True
    assert set(sign.names) & {"50", "51"}


def test_approximate_perturbation_ties_zeros_and_failure():
    scores = np.array([0.0, 1.0, 1.0, 1.0, -2.0])
    np.testing.assert_array_equal(approximate_perturbation(scores, 1.5), [1, 2])
    np.testing.assert_array_equal(approximate_perturbation(scores, -1.0), [4])
    assert approximate_perturbation(scores, -2.5) is None
    assert approximate_perturbation(scores, 3.0).tolist() == [1, 2, 3]
    assert approximate_perturbation(scores, 0.0).size == 0


def test_ridge_has_no_standard_errors():
    X, y = _fragile_regression()
    with pytest.raises(ValueError, match="ridge"):
        AMIP(model="ridge", alpha=1.0).fit(Dataset(X, y))
    sign = AMIP(model="ridge", alpha=1.0, signals=("sign",)).fit(Dataset(X, y))
    assert sign.result_.get("x0", "sign").confirmed is True


def test_progress_is_monotone_and_ends_at_one():
    rng = np.random.default_rng(12)
    X, y = _regression(rng, 30)
    Xv, yv = _regression(rng, 25)
    calls = []
    Influence(model="ridge", batch_size=10, progress=lambda f, info: calls.append(f)).fit(
        Dataset(X, y), Dataset(Xv, yv)
    )
    assert calls == sorted(calls) and calls[-1] == 1.0 and len(calls) == 3
    calls.clear()
    AMIP(model="ols", progress=lambda f, info: calls.append(f)).fit(Dataset(X, y))
    assert calls == sorted(calls) and calls[-1] == 1.0 and len(calls) == 3 * 3
