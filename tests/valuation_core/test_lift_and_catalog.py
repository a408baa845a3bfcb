"""Lift measurement with its bootstrap interval, and the catalogue of models and metrics."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, make_regression

from valuation.core.catalog import METRICS, check_metric, make_model, models_for
from valuation.core.dataset import Dataset
from valuation.core.lift import measure_lift
from valuation.core.utility import ModelUtility


def cancer_split():
    X, y = load_breast_cancer(return_X_y=True)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    X, y = X[order], y[order]
    groups = np.repeat([0, 1, 2], 100)
    train = Dataset(X[:300], y[:300], groups=groups)
    baseline = Dataset(X[300:310], y[300:310])
    valid = Dataset(X[400:], y[400:])
    return train, valid, baseline


def test_informative_data_gives_a_confident_positive_lift():
    train, valid, baseline = cancer_split()
    utility = ModelUtility(make_model("logistic_regression", "classification"), "accuracy")
    lift = measure_lift(utility, train, valid, players=[0, 1, 2], baseline=baseline)
    game = utility.bind(train, valid, baseline)
    assert lift.bundle_score == pytest.approx(game.utility([0, 1, 2]))
    assert lift.baseline_score == pytest.approx(game.utility([]))
    assert lift.estimate == pytest.approx(lift.bundle_score - lift.baseline_score)
    assert lift.lower <= lift.estimate <= lift.upper
    assert lift.lower > 0


def test_an_empty_bundle_lifts_nothing():
    train, valid, baseline = cancer_split()
    utility = ModelUtility(make_model("logistic_regression", "classification"), "roc_auc")
    lift = measure_lift(utility, train, valid, players=[], baseline=baseline, n_resamples=200)
    assert lift.estimate == lift.lower == lift.upper == 0.0


def test_the_interval_recomputes_non_additive_metrics():
    X, y = make_regression(n_samples=240, n_features=5, noise=10.0, random_state=1)
    train = Dataset(X[:160], y[:160], groups=np.repeat([0, 1], 80))
    valid = Dataset(X[160:], y[160:])
    utility = ModelUtility(make_model("ridge", "regression"), "neg_rmse")
    first = measure_lift(utility, train, valid, players=[0, 1], n_resamples=300, random_state=5)
    again = measure_lift(utility, train, valid, players=[0, 1], n_resamples=300, random_state=5)
    assert first == again
    assert first.lower < first.estimate < first.upper


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_every_catalogued_model_fits_its_task(task):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int) if task == "classification" else X[:, 0] * 2.0
    for name in models_for(task):
        model = make_model(name, task).fit(X, y)
        assert model.predict(X).shape == (40,)


def test_catalogue_errors_name_the_choices():
    with pytest.raises(ValueError, match="does not do regression; choose one of ridge"):
        make_model("logistic_regression", "regression")
    with pytest.raises(ValueError, match="unknown model 'svm'"):
        make_model("svm", "classification")
    with pytest.raises(ValueError, match="metric 'r2' is for regression"):
        check_metric("r2", "classification")
    assert set(METRICS.values()) == {"classification", "regression"}


def test_lift_against_a_reference_bundle_is_the_difference_of_their_scores():
    train, valid, baseline = cancer_split()
    utility = ModelUtility(make_model("logistic_regression", "classification"), "accuracy")
    lift = measure_lift(
        utility,
        train,
        valid,
        players=[0, 1, 2],
        reference=[1],
        baseline=baseline,
        n_resamples=200,
    )
    game = utility.bind(train, valid, baseline)
    assert lift.baseline_score == pytest.approx(game.utility([1]))
    assert lift.estimate == pytest.approx(game.utility([0, 1, 2]) - game.utility([1]))
    same = measure_lift(utility, train, valid, players=[1], reference=[1], baseline=baseline)
    assert same.estimate == same.lower == same.upper == 0.0


def test_the_payout_basis_is_the_buyers_metric_floored_where_small_coalitions_crash():
    from valuation.core.catalog import payout_basis

    assert payout_basis("accuracy", "classification") == ("accuracy", False)
    assert payout_basis("neg_log_loss", "classification") == ("neg_log_loss", True)
    assert payout_basis("r2", "regression") == ("r2", True)
    with pytest.raises(ValueError, match="for regression"):
        payout_basis("r2", "classification")
