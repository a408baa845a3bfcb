"""Quality reports: duplicates, conflicts and outliers found; removals measured by real refits."""

from __future__ import annotations

import json

import numpy as np
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

from valuation.core.dataset import Dataset
from valuation.core.quality import (
    cross_fitted_quality_report,
    exact_duplicates,
    label_conflicts,
    prune_suggestions,
    quality_report,
    robust_outliers,
)


def _data(seed: int = 0, n_flipped: int = 20):
    X, y = make_classification(n_samples=360, n_features=6, n_informative=4, random_state=seed)
    rng = np.random.default_rng(seed)
    X_train, y_train = X[:200].copy(), y[:200].copy()
    flipped = rng.choice(200, n_flipped, replace=False)
    y_train[flipped] = 1 - y_train[flipped]
    return X_train, y_train, Dataset(X[200:], y[200:])


def test_exact_duplicates_and_conflicts():
    X = np.array([[0.0, 1.0], [2.0, 3.0], [0.0, 1.0], [-0.0, 1.0], [2.0, 3.0]])
    y = np.array([0, 1, 0, 0, 0])
    # Rows 2 and 3 repeat row 0 (−0.0 equals 0.0); row 4 has row 1's features, another label.
    assert exact_duplicates(X, y).tolist() == [2, 3]
    assert label_conflicts(X, y) == [[1, 4]]


def test_robust_outliers_find_a_planted_row_and_skip_constant_columns():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=100), np.zeros(100)])
    X[17, 0] = 25.0
    X[3, 1] = 1.0  # the MAD of column 1 is 0: it is skipped, so row 3 is not flagged
    assert robust_outliers(X).tolist() == [17]


def test_report_removals_equal_direct_refits_and_serialise():
    X, y, valid = _data()
    X[10] = X[4]
    y[10] = y[4]
    X[11, 0] = 50.0
    model = LogisticRegression()
    report = quality_report(Dataset(X, y), valid, model=model, random_state=0)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["duplicates"] == [10]
    assert 11 in data["outliers"]
    assert len(data["suspects"]) == 20
    assert {"consensus", "knn-shapley", "data-oob", "lava"} <= set(data["suspects"][0])
    full = clone(model).fit(X, y).score(valid.X, valid.y)
    for removal in data["removals"]:
        keep = np.setdiff1d(np.arange(len(y)), removal["rows"])
        refit = clone(model).fit(X[keep], y[keep]).score(valid.X, valid.y)
        assert removal["score_before"] == full
        assert removal["score_after"] == refit
        assert removal["change"] == refit - full
    suspects = {row["row"] for row in data["suspects"]}
    removal_all = next(r for r in data["removals"] if r["kind"] == "all")
    assert suspects | {10} | set(data["outliers"]) == set(removal_all["rows"])


def test_prune_suggestions_find_a_label_shuffled_dataset():
    X, y, valid = _data(1, n_flipped=0)
    groups = np.repeat(np.arange(4), 50)
    y = y.copy()
    y[groups == 2] = 1 - y[groups == 2]  # dataset 2 has every label wrong
    out = prune_suggestions(
        Dataset(X, y, groups=groups), valid, model=LogisticRegression(), random_state=0
    )
    json.dumps(out)
    changes = {suggestion["kind"]: suggestion["change"] for suggestion in out["datasets"]}
    # Dropping the flipped dataset helps at least as much as dropping any other (best first).
    assert changes.get("dataset 2") == out["datasets"][0]["change"]
    for suggestion in out["datasets"]:
        keep = np.setdiff1d(np.arange(len(y)), suggestion["rows"])
        refit = LogisticRegression().fit(X[keep], y[keep]).score(valid.X, valid.y)
        assert suggestion["change"] > 0 and suggestion["score_after"] == refit
    keep = np.setdiff1d(np.arange(len(y)), out["rows"]["rows"])
    refit = LogisticRegression().fit(X[keep], y[keep]).score(valid.X, valid.y)
    assert out["rows"]["score_after"] == refit


def _own_rows(n_flipped: int = 20):
    """200 rows with ``n_flipped`` labels flipped, two repeated rows and one far outlier."""
    X, y, _ = _data(seed=1, n_flipped=0)
    flipped = np.random.default_rng(1).choice(196, n_flipped, replace=False)
    y[flipped] = 1 - y[flipped]
    X[196:198], y[196:198] = X[:2], y[:2]
    X[198, 0] = 40.0
    return Dataset(X, y), flipped


def test_cross_fitted_report_finds_flips_duplicates_and_outliers_from_the_rows_alone():
    train, flipped = _own_rows()
    report = cross_fitted_quality_report(train, model=LogisticRegression(), random_state=0)
    suspects = [s["row"] for s in report.suspects]
    assert len(suspects) == 20 and len(set(suspects)) == 20
    assert len(set(suspects) & set(flipped.tolist())) >= 10, "half the flips among 10% flagged"
    assert {s["fold"] for s in report.suspects} == {0, 1}
    assert all({"consensus", "knn-shapley", "data-oob", "lava"} <= set(s) for s in report.suspects)
    assert [s["consensus"] for s in report.suspects] == sorted(
        s["consensus"] for s in report.suspects
    )
    assert report.duplicates == [196, 197]
    assert 198 in report.outliers
    kinds = {r.kind: r for r in report.removals}
    assert sorted(kinds["suspects"].rows) == sorted(suspects)
    assert set(kinds["all"].rows) == set(suspects) | {196, 197} | set(report.outliers)
    json.dumps(report.to_dict())


def test_cross_fitted_removals_are_the_mean_of_each_folds_refit():
    """Re-derive the folds (shuffle, then deal rows class by class) and refit by hand."""
    train, _ = _own_rows()
    report = cross_fitted_quality_report(train, model=LogisticRegression(), random_state=3)
    rng = np.random.default_rng(3)
    order = rng.permutation(train.n_rows)
    order = order[np.argsort(train.y[order], kind="stable")]
    fold_of = np.empty(train.n_rows, dtype=int)
    fold_of[order] = np.arange(train.n_rows) % 2
    removal = {r.kind: r for r in report.removals}["duplicates"]
    before, after = [], []
    for fold in (0, 1):
        inside, outside = np.flatnonzero(fold_of == fold), np.flatnonzero(fold_of != fold)
        kept = np.setdiff1d(inside, removal.rows)
        for rows, out in ((inside, before), (kept, after)):
            model = clone(LogisticRegression()).fit(train.X[rows], train.y[rows])
            out.append(accuracy_score(train.y[outside], model.predict(train.X[outside])))
    assert removal.score_before == np.mean(before)
    assert removal.score_after == np.mean(after)


def test_cross_fitted_report_samples_large_data_and_keeps_row_numbers():
    train, _ = _own_rows()
    report = cross_fitted_quality_report(
        train, model=LogisticRegression(), max_rows=80, random_state=0
    )
    assert report.n_rows == 80
    rows = [s["row"] for s in report.suspects] + [r for k in report.removals for r in k.rows]
    assert all(0 <= row < train.n_rows for row in rows)
    again = cross_fitted_quality_report(
        train, model=LogisticRegression(), max_rows=80, random_state=0
    )
    assert again.to_dict() == report.to_dict()
