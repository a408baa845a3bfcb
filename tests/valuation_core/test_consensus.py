"""Consensus: rank normalisation, the mean-rank combination, and flipped labels ranked low."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.datasets import make_classification
from sklearn.metrics import roc_auc_score

from valuation.core.dataset import Dataset
from valuation.core.methods.consensus import Consensus, normalized_ranks
from valuation.core.methods.knn import KNNShapley


@given(st.lists(st.integers(-1000, 1000), min_size=2, max_size=30))
def test_normalized_ranks_span_unit_interval_and_keep_order(values):
    ranks = normalized_ranks(np.array(values, dtype=float))
    assert ranks.min() >= 0 and ranks.max() <= 1
    order = np.argsort(values)
    assert np.all(np.diff(ranks[order]) >= 0)
    # Ranks are invariant to any strictly increasing transform of the values.
    assert np.allclose(normalized_ranks(2.0 * np.array(values, dtype=float) ** 3 + 5.0), ranks)


def test_normalized_ranks_tie_and_single():
    assert normalized_ranks(np.array([3.0])).tolist() == [0.5]
    assert normalized_ranks(np.array([1.0, 1.0, 2.0])).tolist() == [0.25, 0.25, 1.0]


def _flipped(seed: int, n_train: int = 240, n_valid: int = 160):
    X, y = make_classification(
        n_samples=n_train + n_valid, n_features=8, n_informative=5, random_state=seed
    )
    rng = np.random.default_rng(seed)
    y_train = y[:n_train].copy()
    flipped = rng.choice(n_train, n_train // 10, replace=False)
    y_train[flipped] = 1 - y_train[flipped]
    is_flipped = np.zeros(n_train, dtype=bool)
    is_flipped[flipped] = True
    return Dataset(X[:n_train], y_train), Dataset(X[n_train:], y[n_train:]), is_flipped


def test_consensus_is_the_mean_of_the_methods_ranks():
    train, valid, _ = _flipped(0)
    calls = []
    est = Consensus(random_state=0, progress=lambda f, info: calls.append(f)).fit(train, valid)
    assert calls == sorted(calls) and calls[-1] == 1.0
    assert set(est.scores_) == {"knn-shapley", "data-oob", "lava"}
    stacked = np.stack([normalized_ranks(est.scores_[name]) for name in est.scores_])
    assert np.allclose(est.result_.values, stacked.mean(axis=0))
    assert np.all(est.result_.counts == 3)
    assert est.result_.method == "consensus"


def test_consensus_ranks_injected_flips_low():
    train, valid, is_flipped = _flipped(1)
    est = Consensus(random_state=0).fit(train, valid)
    assert roc_auc_score(is_flipped, -est.result_.values) > 0.8


def test_regression_leaves_lava_out_and_refuses_it():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=80)
    train, valid = Dataset(X[:50], y[:50]), Dataset(X[50:], y[50:])
    est = Consensus(task="regression", n_estimators=30, random_state=0).fit(train, valid)
    assert set(est.scores_) == {"knn-shapley", "data-oob"}
    with pytest.raises(ValueError, match="LAVA"):
        Consensus(task="regression", methods=["lava"]).fit(train, valid)


def test_bad_arguments_are_refused():
    train, valid, _ = _flipped(2, 40, 20)
    with pytest.raises(ValueError):
        Consensus(methods=["knn-shapley", "knn-shapley"]).fit(train, valid)
    with pytest.raises(ValueError):
        Consensus(methods=["tmc"]).fit(train, valid)
    with pytest.raises(ValueError):
        Consensus().fit(train, None)


def test_grouped_players_are_ranked_by_their_group_values():
    train, valid, _ = _flipped(3, 200, 100)
    groups = np.repeat(np.arange(10), 20)
    grouped = Dataset(train.X, train.y, groups=groups)
    est = Consensus(methods=["knn-shapley", "lava"], random_state=0).fit(grouped, valid)
    assert est.result_.n_players == 10
    knn = KNNShapley().fit(grouped, valid).result_.values
    assert np.allclose(est.ranks_["knn-shapley"], normalized_ranks(knn))
