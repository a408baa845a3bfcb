"""ModelUtility on real data: U(S) as a direct fit would give, and the degenerate rule."""

import numpy as np
import pytest
from sklearn import metrics
from sklearn.datasets import load_breast_cancer, load_iris, make_regression
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from valuation.core import (
    Dataset,
    ExactShapley,
    MaxSamples,
    ModelUtility,
    PermutationShapley,
    chunk_ranges,
    fit_chunked,
)


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    order = np.random.default_rng(0).permutation(len(y))
    X, y = X[order], y[order]
    # Five providers of 50 rows; provider "zeros" holds only class-0 rows.
    zeros = np.flatnonzero(y[:400] == 0)[:50]
    rest = np.setdiff1d(np.arange(400), zeros)[:200]
    rows = np.concatenate([rest, zeros])
    groups = np.repeat(["p0", "p1", "p2", "p3", "zeros"], 50)
    train = Dataset(X[rows], y[rows], groups=groups)
    valid = Dataset(X[400:], y[400:])
    return train, valid


def majority(labels):
    values, counts = np.unique(labels, return_counts=True)
    return values[np.argmax(counts)]


def model():
    return LogisticRegression(max_iter=1000)


def test_utility_is_the_direct_fit_and_score(cancer):
    train, valid = cancer
    game = ModelUtility(model(), "accuracy").bind(train, valid)
    assert game.n_players == 5 and game.names.tolist() == ["p0", "p1", "p2", "p3", "zeros"]
    rows = train.indices_of([1, 3])
    direct = model().fit(train.X[rows], train.y[rows]).score(valid.X, valid.y)
    assert game.utility((1, 3)) == direct
    everyone = model().fit(train.X, train.y).score(valid.X, valid.y)
    assert game.utility(range(5)) == everyone
    # Limiting library threads (the default) changes speed, not the answer.
    unlimited = ModelUtility(model(), "accuracy", n_threads=None).bind(train, valid)
    assert unlimited.utility((1, 3)) == direct


def test_empty_coalition_without_baseline_is_the_training_prior(cancer):
    train, valid = cancer
    guess = majority(train.y)
    assert ModelUtility(model(), "accuracy").bind(train, valid).utility(()) == pytest.approx(
        np.mean(valid.y == guess)
    )
    assert ModelUtility(model(), "roc_auc").bind(train, valid).utility(()) == 0.5
    prior = np.mean(train.y == 1)
    p_true = np.where(valid.y == 1, prior, 1 - prior)
    assert ModelUtility(model(), "neg_log_loss").bind(train, valid).utility(()) == pytest.approx(
        np.mean(np.log(p_true))
    )


def test_one_class_coalition_is_the_constant_predictor_of_its_rows(cancer):
    train, valid = cancer
    assert set(train.y[train.indices_of([4])]) == {0}
    game = ModelUtility(model(), "balanced_accuracy").bind(train, valid)
    assert game.utility([4]) == pytest.approx(0.5)
    accuracy = ModelUtility(model(), "accuracy").bind(train, valid)
    assert accuracy.utility([4]) == pytest.approx(np.mean(valid.y == 0))


def test_too_few_rows_for_knn_falls_back_to_the_constant_predictor():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 2))
    y = np.array([0, 1, 1] + [0, 1] * 8 + [0])
    train, valid = Dataset(X, y), Dataset(rng.normal(size=(30, 2)), rng.integers(0, 2, 30))
    game = ModelUtility(KNeighborsClassifier(n_neighbors=5), "accuracy").bind(train, valid)
    assert game.min_rows == 5
    # Rows 0, 1, 2 hold labels 0, 1, 1: the constant predictor says 1.
    assert game.utility([0, 1, 2]) == pytest.approx(np.mean(valid.y == 1))
    fitted = KNeighborsClassifier(n_neighbors=5).fit(X[:5], y[:5]).score(valid.X, valid.y)
    assert game.utility(range(5)) == pytest.approx(fitted)
    relaxed = ModelUtility(KNeighborsClassifier(n_neighbors=1), min_rows=4).bind(train, valid)
    assert relaxed.utility([0, 1, 2]) == pytest.approx(np.mean(valid.y == 1))


def test_regression_degenerate_coalitions_predict_the_mean():
    X, y = make_regression(n_samples=120, n_features=5, noise=10.0, random_state=0)
    train = Dataset(X[:80], y[:80], groups=np.repeat([0, 1, 2, 3], 20))
    valid = Dataset(X[80:], y[80:])
    game = ModelUtility(Ridge(), "r2").bind(train, valid)
    expected = 1 - np.sum((valid.y - train.y.mean()) ** 2) / np.sum((valid.y - valid.y.mean()) ** 2)
    assert game.utility(()) == pytest.approx(expected)
    neg_rmse = ModelUtility(Ridge(), "neg_rmse").bind(train, valid).utility([2])
    rows = train.indices_of([2])
    direct = Ridge().fit(train.X[rows], train.y[rows]).predict(valid.X)
    assert neg_rmse == pytest.approx(-metrics.root_mean_squared_error(valid.y, direct))


def test_a_floored_coalition_is_worth_at_least_the_empty_one():
    # Two rows a hair apart with labels far apart: the line through them is steep, and on
    # the validation rows its R² is far below the empty coalition's (the training mean).
    rng = np.random.default_rng(3)
    X = np.concatenate([[[0.0], [0.01]], rng.normal(size=(58, 1))])
    y = np.concatenate([[0.0, 5.0], 2 * X[2:, 0] + rng.normal(size=58)])
    train = Dataset(X[:20], y[:20])
    valid = Dataset(X[20:], y[20:])
    plain = ModelUtility(Ridge(alpha=1e-6), "r2").bind(train, valid)
    floored = ModelUtility(Ridge(alpha=1e-6), "r2", floor=True).bind(train, valid)
    assert plain.utility((0, 1)) < plain.utility(())
    assert floored.utility((0, 1)) == plain.utility(())
    # So is a one-class coalition's Brier score (its constant predictor is sure of its class).
    X, y = load_breast_cancer(return_X_y=True)
    shuffled = np.random.default_rng(0).permutation(len(y))
    X, y = StandardScaler().fit_transform(X)[shuffled], y[shuffled]
    train, valid = Dataset(X[:40], y[:40]), Dataset(X[100:200], y[100:200])
    one_class = (int(np.flatnonzero(y[:40] == 1)[0]),)
    brier = ModelUtility(LogisticRegression(), "neg_brier").bind(train, valid)
    brier_floored = ModelUtility(LogisticRegression(), "neg_brier", floor=True).bind(train, valid)
    assert brier.utility(one_class) < brier.utility(()) == brier_floored.utility(one_class)
    # A model that beats the empty coalition keeps its own score.
    everyone = tuple(range(40))
    assert brier_floored.utility(everyone) == brier.utility(everyone) > brier.utility(())


def test_baseline_is_always_in_and_never_a_player(cancer):
    train, valid = cancer
    pick = np.concatenate([np.flatnonzero(train.y == 0)[:10], np.flatnonzero(train.y == 1)[:20]])
    baseline = Dataset(train.X[pick] + 0.01, train.y[pick])
    game = ModelUtility(model(), "accuracy").bind(train, valid, baseline)
    assert game.n_players == 5
    alone = model().fit(baseline.X, baseline.y).score(valid.X, valid.y)
    assert game.utility(()) == alone
    rows = train.indices_of([0])
    X = np.concatenate([baseline.X, train.X[rows]])
    y = np.concatenate([baseline.y, train.y[rows]])
    assert game.utility([0]) == model().fit(X, y).score(valid.X, valid.y)
    one_class = Dataset(baseline.X[baseline.y == 1], baseline.y[baseline.y == 1])
    constant = ModelUtility(model(), "accuracy").bind(train, valid, one_class)
    assert constant.utility(()) == pytest.approx(np.mean(valid.y == 1))


def test_multiclass_degenerate_f1_on_iris():
    X, y = load_iris(return_X_y=True)
    order = np.random.default_rng(2).permutation(150)
    X, y = X[order], y[order]
    classes = y[:90]
    groups = np.where(classes == 2, "virginica", np.where(np.arange(90) % 2, "odd", "even"))
    train, valid = Dataset(X[:90], classes, groups=groups), Dataset(X[90:], y[90:])
    game = ModelUtility(model(), "f1").bind(train, valid)
    player = train.player_names.tolist().index("virginica")
    constant = np.full(60, 2)
    assert game.utility([player]) == pytest.approx(
        metrics.f1_score(valid.y, constant, average="macro", labels=[0, 1, 2], zero_division=0)
    )


def test_unset_random_state_is_pinned_without_touching_the_users_model(cancer):
    train, valid = cancer
    forest = RandomForestClassifier(n_estimators=5)
    values = [ModelUtility(forest).bind(train, valid).utility([0, 2]) for _ in range(2)]
    assert values[0] == values[1]
    assert forest.random_state is None


def test_configuration_errors(cancer):
    train, valid = cancer
    with pytest.raises(ValueError, match="feature columns"):
        ModelUtility(model()).bind(train, Dataset(valid.X[:, :3], valid.y))
    with pytest.raises(ValueError, match="needs a classifier"):
        ModelUtility(Ridge(), "accuracy").bind(train, valid)
    with pytest.raises(ValueError, match="needs a model"):
        ExactShapley().fit(train, valid)
    with pytest.raises(ValueError, match="valid"):
        ExactShapley(model=model()).fit(train)


def test_duplicate_provider_gets_the_same_value(cancer):
    train, valid = cancer
    rows = train.indices_of([0, 1, 2])
    X = np.concatenate([train.X[rows], train.X[train.indices_of([0])]])
    y = np.concatenate([train.y[rows], train.y[train.indices_of([0])]])
    groups = np.repeat(["a", "b", "c", "copy_of_a"], 50)
    estimator = ExactShapley(model=model(), scorer="accuracy").fit(
        Dataset(X, y, groups=groups), valid
    )
    values = estimator.result_.values
    assert values[0] == pytest.approx(values[3], abs=1e-12)
    assert estimator.result_.efficiency_gap == pytest.approx(0.0, abs=1e-12)
    assert estimator.n_utility_evaluations_ == 16


def test_model_game_chunked_equals_unchunked_and_a_shared_cache_saves_fits(cancer):
    train, valid = cancer

    class CountingCache(dict):
        def set(self, key, value):
            self[key] = value

    cache = CountingCache()
    estimator = PermutationShapley(
        model=model(), scorer="accuracy", random_state=3, stop=MaxSamples(6), cache=cache
    )
    whole = estimator.fit(train, valid).result_
    distinct = estimator.n_utility_evaluations_
    assert len(cache) == distinct
    merged = fit_chunked(estimator, train, valid, chunks=chunk_ranges(6, 4))
    np.testing.assert_allclose(merged.values, whole.values, atol=1e-12)
    # The warm cache answered every coalition: no new entries, same deterministic count.
    assert len(cache) == distinct and estimator.fit(train, valid).n_utility_evaluations_ == distinct
