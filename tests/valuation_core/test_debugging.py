"""Model debugging: mispredictions explained by training rows, and AMIP sensitivity reports.

Oracles are independent of the code under test: the k-NN game's Shapley values by brute
force over all orders, and every sensitivity claim re-checked by refitting scikit-learn's
``StandardScaler`` + ``Ridge(1)`` / ``LogisticRegression(C=1)`` without the reported rows.
"""

from __future__ import annotations

import json
from fractions import Fraction
from functools import cache

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import logsumexp
from sklearn.datasets import make_classification
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from tests.valuation_core.oracles import shapley_by_permutations
from valuation.core import Dataset
from valuation.core.debugging import explain_mispredictions, sensitivity_report
from valuation.core.report import Misprediction, RowRef, Sensitivity

# --- explain_mispredictions ---------------------------------------------------------------


def _clusters(per_cluster: int) -> tuple[np.ndarray, np.ndarray]:
    """Label 0 around (0, 0), label 1 around (4, 4), rows at distinct distances."""
    offsets = np.column_stack([np.linspace(0.3, 1.2, per_cluster), np.zeros(per_cluster)])
    X = np.concatenate([offsets, offsets + 4.0])
    return X, np.repeat([0, 1], per_cluster)


def _planted(per_cluster: int, position: int) -> tuple[np.ndarray, np.ndarray]:
    """The clusters with a label-0 row planted at (4, 4), in the middle of label 1."""
    X, y = _clusters(per_cluster)
    return np.insert(X, position, [4.0, 4.0], axis=0), np.insert(y, position, 0)


VALID_X = np.array([[0.3, 0.05], [4.02, 4.0], [5.2, 4.05]])
VALID_Y = np.array([0, 1, 1])


def test_a_planted_mislabeled_row_is_the_only_driver_with_brute_force_values():
    X, y = _planted(3, position=3)  # rows 0-2 label 0, row 3 planted, rows 4-6 label 1
    k = 2
    explained = explain_mispredictions(
        Dataset(X, y), Dataset(VALID_X, VALID_Y), model=KNeighborsClassifier(1), k=k
    )
    # 1-NN gets only validation row 1 wrong: its nearest row is the planted one.
    assert [item.valid_row for item in explained] == [1]
    assert (explained[0].label, explained[0].predicted) == (1, 0)

    order = np.argsort(np.square(X - VALID_X[1]).sum(axis=1), kind="stable")

    @cache
    def utility(coalition: frozenset) -> Fraction:
        nearest = [i for i in order if i in coalition][:k]
        return Fraction(sum(int(y[i] == 1) for i in nearest), k)

    brute = shapley_by_permutations(utility, len(y))
    negative = [i for i in range(len(y)) if brute[i] < 0]
    assert negative == [3]
    (driver,) = explained[0].drivers
    assert driver == RowRef(None, 3, label=0, value=pytest.approx(float(brute[3])))


def test_drivers_of_a_grouped_train_name_the_group_and_the_row_within_it():
    X, y = _planted(10, position=12)
    groups = np.array(["a", "b", "c"] * 7)[: len(y)]
    groups[12] = "b"
    within = int(np.sum(groups[:12] == "b"))
    explained = explain_mispredictions(
        Dataset(X, y, groups=groups), Dataset(VALID_X, VALID_Y), model=KNeighborsClassifier(1)
    )
    assert [item.valid_row for item in explained] == [1]
    top = explained[0].drivers[0]
    assert (top.player, top.row, top.label) == ("b", within, 0)
    # The row named is the planted one: group b's rows, in file order, at that position.
    assert np.flatnonzero(groups == "b")[top.row] == 12
    assert top.value < 0


def test_rows_follow_validation_order_limits_and_json():
    X, y = make_classification(
        n_samples=260, n_features=4, flip_y=0.25, class_sep=0.6, random_state=3
    )
    labels = np.where(y == 1, "yes", "no")
    train, valid = Dataset(X[:200], labels[:200]), Dataset(X[200:], labels[200:])
    model = LogisticRegression()
    explained = explain_mispredictions(train, valid, model=model, top=3, max_points=4)

    predicted = LogisticRegression().fit(X[:200], labels[:200]).predict(X[200:])
    wrong = np.flatnonzero(predicted != labels[200:])
    assert wrong.size > 4
    assert [item.valid_row for item in explained] == wrong[:4].tolist()
    for item in explained:
        assert item.predicted == predicted[item.valid_row]
        assert item.label == labels[200 + item.valid_row] != item.predicted
        values = [driver.value for driver in item.drivers]
        assert 0 < len(values) <= 3
        assert all(value < 0 for value in values)
        assert values == sorted(values)
        # A driver carries another label than the truth: it pulled the other way.
        assert all(driver.label != item.label for driver in item.drivers)
    stored = [json.loads(json.dumps(item.to_dict())) for item in explained]
    assert [Misprediction.from_dict(item) for item in stored] == explained
    assert isinstance(explained[0].label, str)


def test_a_single_label_train_predicts_it_and_has_no_drivers():
    X, y = _clusters(4)
    train = Dataset(X, np.zeros(8, dtype=int))
    explained = explain_mispredictions(train, Dataset(VALID_X, VALID_Y), model=LogisticRegression())
    assert [(item.valid_row, item.predicted) for item in explained] == [(1, 0), (2, 0)]
    # No row carries the true label: no row can pull a prediction away from it.
    assert all(item.drivers == () for item in explained)


def test_explain_refuses_regression_and_bad_arguments():
    X, y = _clusters(4)
    with pytest.raises(ValueError, match="classification"):
        explain_mispredictions(Dataset(X, y), Dataset(VALID_X, VALID_Y), model=LinearRegression())
    continuous = Dataset(X, np.linspace(0, 1, 8))
    with pytest.raises(ValueError, match="continuous labels"):
        explain_mispredictions(continuous, Dataset(VALID_X, VALID_Y), model=LogisticRegression())
    with pytest.raises(ValueError, match="top must be a positive int"):
        explain_mispredictions(
            Dataset(X, y), Dataset(VALID_X, VALID_Y), model=LogisticRegression(), top=0
        )
    with pytest.raises(ValueError, match="feature columns"):
        explain_mispredictions(
            Dataset(X, y), Dataset(VALID_X[:, :1], VALID_Y), model=LogisticRegression()
        )


# --- sensitivity_report -------------------------------------------------------------------


def _regression(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """x0 drives y strongly, x1 barely, on very different scales."""
    X = rng.normal(size=(n, 2)) * [100.0, 0.01]
    return X, 0.05 * X[:, 0] + 3.0 * X[:, 1] + rng.normal(size=n)


def _ridge_refit(X, y, Xv, yv, dropped):
    keep = np.setdiff1d(np.arange(len(y)), dropped)
    scaler = StandardScaler().fit(X)  # the scaling of all rows, fixed before dropping
    model = Ridge(alpha=1.0, solver="cholesky").fit(scaler.transform(X[keep]), y[keep])
    return model, float(np.mean((yv - model.predict(scaler.transform(Xv))) ** 2))


def test_ridge_report_is_confirmed_by_an_independent_refit():
    rng = np.random.default_rng(0)
    X, y = _regression(rng, 120)
    Xv, yv = _regression(rng, 60)
    report = sensitivity_report(Dataset(X, y), Dataset(Xv, yv), task="regression")
    assert (report.model, report.n_rows) == ("ridge", 120)

    full, current = _ridge_refit(X, y, Xv, yv, [])
    loss = report.loss
    assert loss.name == "squared error"
    assert loss.original == pytest.approx(current, rel=1e-9)
    assert loss.threshold == pytest.approx(1.1 * current, rel=1e-9)
    assert loss.k == len(loss.rows) > 0 and loss.share == loss.k / 120
    assert all(row.player is None for row in loss.rows)
    _, after = _ridge_refit(X, y, Xv, yv, [row.row for row in loss.rows])
    assert loss.refit == pytest.approx(after, rel=1e-8)
    assert after >= loss.threshold and loss.confirmed is True

    names = [c.name for c in report.coefficients]
    assert names == ["x1", "x0"]  # the fragile coefficient first
    weak, strong = report.coefficients
    assert weak.estimate == pytest.approx(full.coef_[1], rel=1e-8)
    assert weak.k == len(weak.rows) > 0
    refit, _ = _ridge_refit(X, y, Xv, yv, [row.row for row in weak.rows])
    assert weak.refit == pytest.approx(refit.coef_[1], rel=1e-8, abs=1e-12)
    assert np.sign(refit.coef_[1]) != np.sign(full.coef_[1]) and weak.confirmed is True
    # k None: no set of rows flips the strong coefficient, even all rows on its side.
    assert strong.estimate == pytest.approx(full.coef_[0], rel=1e-8)
    assert (strong.k, strong.share, strong.refit, strong.confirmed) == (
        None,
        None,
        None,
        None,
    )
    assert strong.rows == ()
    assert Sensitivity.from_dict(json.loads(json.dumps(report.to_dict()))) == report

    only = sensitivity_report(Dataset(X, y), Dataset(Xv, yv), task="regression", max_coefficients=1)
    assert [c.name for c in only.coefficients] == ["x1"]


def test_logistic_report_on_grouped_rows_is_confirmed_by_sklearn():
    X, y = make_classification(
        n_samples=240, n_features=3, n_informative=2, n_redundant=0, flip_y=0.1, random_state=5
    )
    X = X * [1.0, 50.0, 0.1]
    groups = np.array(["p", "q", "r", "p"] * 45)
    train = Dataset(X[:180], y[:180], groups=groups, feature_names=["a", "b", "c"])
    valid = Dataset(X[180:], y[180:])
    report = sensitivity_report(train, valid, task="classification", loss_increase=0.2)
    assert report.model == "logistic"

    def refit(dropped: list[int]) -> tuple[LogisticRegression, float]:
        keep = np.setdiff1d(np.arange(180), dropped)
        scaler = StandardScaler().fit(X[:180])
        model = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12)
        model.fit(scaler.transform(X[:180][keep]), y[:180][keep])
        p = model.predict_proba(scaler.transform(X[180:]))[np.arange(60), y[180:]]
        return model, float(-np.log(p).mean())

    def global_rows(rows: list[dict]) -> list[int]:
        # (player, row within the player) → position in the training file.
        return [int(np.flatnonzero(groups == row.player)[row.row]) for row in rows]

    full, current = refit([])
    loss = report.loss
    assert loss.name == "log loss"
    assert loss.original == pytest.approx(current, rel=1e-6)
    assert loss.threshold == pytest.approx(1.2 * current, rel=1e-6)
    assert loss.k is not None and loss.confirmed is True
    assert {row.player for row in loss.rows} <= {"p", "q", "r"}
    _, after = refit(global_rows(loss.rows))
    assert after >= loss.threshold
    assert loss.refit == pytest.approx(after, rel=1e-6)

    ks = [c.k for c in report.coefficients]
    assert ks == sorted(ks, key=lambda k: (k is None, k or 0))
    assert {c.name for c in report.coefficients} == {"a", "b", "c"}
    flippable = [c for c in report.coefficients if c.k is not None]
    assert flippable
    for coefficient in flippable:
        j = "abc".index(coefficient.name)
        assert coefficient.estimate == pytest.approx(full.coef_[0, j], rel=1e-6)
        model, _ = refit(global_rows(coefficient.rows))
        assert coefficient.refit == pytest.approx(model.coef_[0, j], rel=1e-5, abs=1e-9)
        assert np.sign(model.coef_[0, j]) != np.sign(full.coef_[0, j])


def _multinomial_loss(X, y, Xv, yv, dropped) -> float:
    """Validation log loss of the stated objective minimised by scipy (class 0: logits 0)."""
    keep = np.setdiff1d(np.arange(len(y)), dropped)
    scaler = StandardScaler().fit(X)
    Z = np.column_stack([scaler.transform(X), np.ones(len(y))])[keep]
    Zv = np.column_stack([scaler.transform(Xv), np.ones(len(yv))])
    shape = (Z.shape[1], int(y.max()))

    def losses(theta, Z, y):
        logits = np.column_stack([np.zeros(len(y)), Z @ theta.reshape(shape)])
        return logsumexp(logits, axis=1) - logits[np.arange(len(y)), y]

    def objective(theta):
        return losses(theta, Z, y[keep]).sum() + 0.5 * np.sum(theta.reshape(shape)[:-1] ** 2)

    theta = minimize(objective, np.zeros(np.prod(shape)), method="BFGS", tol=1e-10).x
    return float(losses(theta, Zv, yv).mean())


def test_multiclass_reports_the_loss_only_confirmed_by_scipy():
    X, y = make_classification(
        n_samples=210, n_features=3, n_informative=3, n_redundant=0, n_classes=3, random_state=2
    )
    report = sensitivity_report(
        Dataset(X[:150], y[:150]), Dataset(X[150:], y[150:]), task="classification"
    )
    assert report.coefficients == ()
    loss = report.loss
    args = (X[:150], y[:150], X[150:], y[150:])
    assert loss.original == pytest.approx(_multinomial_loss(*args, []), rel=1e-5)
    assert loss.k is not None and loss.confirmed is True
    after = _multinomial_loss(*args, [row.row for row in loss.rows])
    assert after >= loss.threshold
    assert loss.refit == pytest.approx(after, rel=1e-5)


def test_sensitivity_refuses_bad_input_clearly():
    X, y = _regression(np.random.default_rng(1), 30)
    data = Dataset(X, y)
    with pytest.raises(ValueError, match="task must be"):
        sensitivity_report(data, data, task="ranking")
    with pytest.raises(ValueError, match="loss_increase must be > 0"):
        sensitivity_report(data, data, task="regression", loss_increase=0)
    with pytest.raises(ValueError, match="max_coefficients must be >= 0"):
        sensitivity_report(data, data, task="regression", max_coefficients=-1)
    labels = (X[:, 0] > 0).astype(int)
    with pytest.raises(ValueError, match="single class"):
        sensitivity_report(Dataset(X, np.ones(30)), data, task="classification")
    with pytest.raises(ValueError, match="label 2 does not occur"):
        sensitivity_report(
            Dataset(X, labels), Dataset(X, np.where(labels == 1, 2, 0)), task="classification"
        )


def test_rows_are_located_by_their_position_within_their_player():
    from valuation.core.debugging import _Locations

    rng = np.random.default_rng(4)
    groups = rng.choice(np.array(["b", "a", "c"], dtype=object), size=50)
    train = Dataset(rng.normal(size=(50, 2)), rng.integers(0, 2, 50), groups=groups)
    located = _Locations(train)
    seen: dict[str, int] = {}
    for row, group in enumerate(groups):
        assert located.at(row) == RowRef(group, seen.get(group, 0))
        seen[group] = seen.get(group, 0) + 1
    assert _Locations(Dataset(np.zeros((3, 1)), np.zeros(3))).at(2) == RowRef(None, 2)
