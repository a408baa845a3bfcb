"""Named scorers against scikit-learn's metrics, and their behaviour on odd models."""

import numpy as np
import pytest
from sklearn import metrics
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from valuation.core import get_scorer


@pytest.fixture(scope="module")
def binary():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    model = LogisticRegression(max_iter=1000).fit(X[::2], y[::2])
    return model, X[1::2], y[1::2]


@pytest.fixture(scope="module")
def multiclass():
    X, y = load_iris(return_X_y=True)
    # A weak model so that the metrics are not all 1.
    model = LogisticRegression(max_iter=1000, C=0.01).fit(X[::3, :1], y[::3])
    return model, X[1::3, :1], y[1::3]


def test_binary_scorers_agree_with_sklearn(binary):
    model, X, y = binary
    proba = model.predict_proba(X)
    predicted = model.predict(X)
    assert get_scorer("accuracy")(model, X, y) == pytest.approx(
        metrics.accuracy_score(y, predicted)
    )
    assert get_scorer("balanced_accuracy")(model, X, y) == pytest.approx(
        metrics.balanced_accuracy_score(y, predicted)
    )
    assert get_scorer("f1")(model, X, y) == pytest.approx(metrics.f1_score(y, predicted))
    assert get_scorer("roc_auc")(model, X, y) == pytest.approx(
        metrics.roc_auc_score(y, proba[:, 1])
    )
    assert get_scorer("neg_log_loss")(model, X, y) == pytest.approx(-metrics.log_loss(y, proba))
    # scikit-learn's binary Brier score is the squared error of the positive class only;
    # ours sums over both classes (the multiclass definition), which doubles it.
    assert get_scorer("neg_brier")(model, X, y) == pytest.approx(
        -2 * metrics.brier_score_loss(y, proba[:, 1])
    )


def test_multiclass_scorers_agree_with_sklearn(multiclass):
    model, X, y = multiclass
    proba = model.predict_proba(X)
    predicted = model.predict(X)
    assert get_scorer("f1")(model, X, y) == pytest.approx(
        metrics.f1_score(y, predicted, average="macro")
    )
    assert get_scorer("balanced_accuracy")(model, X, y) == pytest.approx(
        metrics.balanced_accuracy_score(y, predicted)
    )
    assert get_scorer("roc_auc")(model, X, y) == pytest.approx(
        metrics.roc_auc_score(y, proba, multi_class="ovr", average="macro")
    )
    assert get_scorer("neg_log_loss")(model, X, y) == pytest.approx(-metrics.log_loss(y, proba))
    onehot = (y[:, None] == model.classes_[None, :]).astype(float)
    assert get_scorer("neg_brier")(model, X, y) == pytest.approx(
        -np.mean(np.sum((proba - onehot) ** 2, axis=1))
    )


def test_regression_scorers_agree_with_sklearn():
    X, y = load_diabetes(return_X_y=True)
    model = Ridge().fit(X[::2], y[::2])
    predicted = model.predict(X[1::2])
    assert get_scorer("r2")(model, X[1::2], y[1::2]) == pytest.approx(
        metrics.r2_score(y[1::2], predicted)
    )
    assert get_scorer("neg_rmse")(model, X[1::2], y[1::2]) == pytest.approx(
        -metrics.root_mean_squared_error(y[1::2], predicted)
    )


def test_roc_auc_uses_the_decision_function_when_there_are_no_probabilities(binary):
    _, X, y = binary
    svm = LinearSVC().fit(X, y)
    assert get_scorer("roc_auc")(svm, X, y) == pytest.approx(
        metrics.roc_auc_score(y, svm.decision_function(X))
    )


def test_constant_predictor_of_one_class_gets_defined_scores():
    X = np.zeros((6, 1))
    y = np.array([0, 0, 1, 1, 1, 2])
    only_ones = DummyClassifier(strategy="prior").fit(np.zeros((3, 1)), [1, 1, 1])
    assert get_scorer("accuracy")(only_ones, X, y) == pytest.approx(0.5)
    assert get_scorer("roc_auc")(only_ones, X, y) == pytest.approx(0.5)
    assert get_scorer("balanced_accuracy")(only_ones, X, y) == pytest.approx(1 / 3)
    # F1 macro over the validation classes: class 1 has precision 1/2, recall 1.
    assert get_scorer("f1")(only_ones, X, y) == pytest.approx((2 / 3) / 3)
    # Classes the model never saw cost -log(1e-15) each, not infinity.
    assert get_scorer("neg_log_loss")(only_ones, X, y) == pytest.approx(3 * np.log(1e-15) / 6)
    # Brier: right rows cost 0; a row of a class it never saw costs 1 + 1 (its own class
    # at 0, class 1 at 1).
    assert get_scorer("neg_brier")(only_ones, X, y) == pytest.approx(-(3 * 2) / 6)


def test_binary_f1_scores_the_largest_label():
    X = np.zeros((4, 1))
    y = np.array(["no", "yes", "yes", "no"])
    says_yes = DummyClassifier(strategy="constant", constant="yes").fit(X, y)
    assert get_scorer("f1")(says_yes, X, y) == pytest.approx(
        metrics.f1_score(y, says_yes.predict(X), pos_label="yes")
    )


def test_callables_and_errors():
    def half(model, X, y):
        return 0.5

    scorer = get_scorer(half)
    assert scorer.name == "half" and scorer(None, None, None) == 0.5
    assert get_scorer(scorer) is scorer
    with pytest.raises(ValueError, match="unknown scorer"):
        get_scorer("accuracy_score")
    with pytest.raises(ValueError, match="two classes"):
        get_scorer("roc_auc")(DummyClassifier().fit([[0]], [1]), np.zeros((2, 1)), np.ones(2))
