"""Quality reports: duplicates, conflicts and outliers found; removals measured by real refits."""

from __future__ import annotations

import json

import numpy as np
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from valuation.core.dataset import Dataset
from valuation.core.quality import (
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
