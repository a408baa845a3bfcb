"""Scorers: how good a fitted model is on validation data, higher is better.

A scorer is any callable ``scorer(model, X, y) -> float``. :func:`get_scorer` turns a name
into one. The named scorers are written to stay defined on the odd models valuation fits on
small coalitions — a model that knows fewer classes than the validation data, or a constant
predictor — so they never raise on a degenerate coalition:

========================  =============================================================
``accuracy``              fraction of rows predicted right
``balanced_accuracy``     mean recall over the classes present in the validation labels
``f1``                    binary F1 of the positive class (the largest label, e.g. ``1``)
                          when the validation labels have two classes; macro-averaged F1
                          over the validation classes otherwise
``roc_auc``               area under the ROC curve (ties count one half); one-vs-rest and
                          macro-averaged over the validation classes when there are more
                          than two; needs ``predict_proba`` or ``decision_function``
``r2``                    coefficient of determination (1 for a perfect fit on a constant
                          target, 0 for an imperfect one, as scikit-learn does)
``neg_rmse``              minus the root mean squared error
``neg_log_loss``          minus the mean log loss, probabilities clipped to
                          ``[1e-15, 1]`` so a class the model has never seen costs
                          ``-log(1e-15)`` rather than infinity
``neg_brier``             minus the Brier score: the mean over rows of the squared
                          distance between the predicted class probabilities and the
                          one-hot label (0 at best, 2 at worst); a class the model has
                          never seen has probability 0. Bounded and smooth in the
                          predictions, so it moves little when one training row changes,
                          where accuracy jumps by whole validation rows
========================  =============================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.stats import rankdata

ScorerFunction = Callable[[Any, np.ndarray, np.ndarray], float]

#: Probability floor for ``neg_log_loss``; keeps the loss finite for classes a model lacks.
LOG_LOSS_EPS = 1e-15


class Scorer:
    """A named scorer: ``scorer(model, X, y) -> float``, higher is better.

    Parameters
    ----------
    function : callable
        ``function(model, X, y) -> float``.
    name : str
        Display name (used in results and receipts).
    """

    def __init__(self, function: ScorerFunction, name: str) -> None:
        self.function = function
        self.name = name

    def __call__(self, model: Any, X: np.ndarray, y: np.ndarray) -> float:
        return float(self.function(model, X, y))

    def __repr__(self) -> str:
        return f"Scorer({self.name!r})"


def _accuracy(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict(X) == y))


def _balanced_accuracy(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    predicted = model.predict(X)
    recalls = [np.mean(predicted[y == label] == label) for label in np.unique(y)]
    return float(np.mean(recalls))


def _f1_of(label: Any, predicted: np.ndarray, y: np.ndarray) -> float:
    true_pos = np.sum((predicted == label) & (y == label))
    false_pos = np.sum((predicted == label) & (y != label))
    false_neg = np.sum((predicted != label) & (y == label))
    denominator = 2 * true_pos + false_pos + false_neg
    return float(2 * true_pos / denominator) if denominator else 0.0


def _f1(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    predicted = model.predict(X)
    labels = np.unique(y)
    if labels.shape[0] == 2:
        return _f1_of(labels[1], predicted, y)
    return float(np.mean([_f1_of(label, predicted, y) for label in labels]))


def _class_scores(model: Any, X: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-class scores of shape (n_rows, len(labels)); zero for classes the model lacks."""
    classes = np.asarray(model.classes_)
    if hasattr(model, "predict_proba"):
        raw = np.asarray(model.predict_proba(X), dtype=float)
    elif hasattr(model, "decision_function"):
        raw = np.asarray(model.decision_function(X), dtype=float)
        if raw.ndim == 1:
            # Binary decision functions score classes_[1]; classes_[0] gets the mirror image.
            raw = np.column_stack([-raw, raw])
    else:
        raise ValueError("roc_auc needs a model with predict_proba or decision_function")
    scores = np.zeros((X.shape[0], labels.shape[0]))
    for j, label in enumerate(labels):
        hit = np.flatnonzero(classes == label)
        if hit.size:
            scores[:, j] = raw[:, hit[0]]
    return scores


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    ranks = rankdata(score)
    n_pos = int(positive.sum())
    n_neg = positive.shape[0] - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _roc_auc(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    labels = np.unique(y)
    if labels.shape[0] < 2:
        raise ValueError("roc_auc needs at least two classes in the validation labels")
    scores = _class_scores(model, X, labels)
    if labels.shape[0] == 2:
        return _binary_auc(y == labels[1], scores[:, 1] - scores[:, 0])
    return float(np.mean([_binary_auc(y == label, scores[:, j]) for j, label in enumerate(labels)]))


def _r2(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    residual = float(np.sum((y - model.predict(X)) ** 2))
    total = float(np.sum((y - np.mean(y)) ** 2))
    if total == 0.0:
        return 1.0 if residual == 0.0 else 0.0
    return 1.0 - residual / total


def _neg_rmse(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    return -float(np.sqrt(np.mean((y - model.predict(X)) ** 2)))


def _neg_log_loss(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    if not hasattr(model, "predict_proba"):
        raise ValueError("neg_log_loss needs a model with predict_proba")
    proba = np.asarray(model.predict_proba(X), dtype=float)
    classes = np.asarray(model.classes_)
    p_true = np.zeros(y.shape[0])
    for j, label in enumerate(classes):
        p_true[y == label] = proba[y == label, j]
    return float(np.mean(np.log(np.clip(p_true, LOG_LOSS_EPS, 1.0))))


def _neg_brier(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    if not hasattr(model, "predict_proba"):
        raise ValueError("neg_brier needs a model with predict_proba")
    labels = np.unique(np.concatenate([np.asarray(model.classes_), y]))
    proba = _class_scores(model, X, labels)
    onehot = (y[:, None] == labels[None, :]).astype(float)
    return -float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))


SCORERS: dict[str, ScorerFunction] = {
    "accuracy": _accuracy,
    "balanced_accuracy": _balanced_accuracy,
    "f1": _f1,
    "roc_auc": _roc_auc,
    "r2": _r2,
    "neg_rmse": _neg_rmse,
    "neg_log_loss": _neg_log_loss,
    "neg_brier": _neg_brier,
}

#: Scorers that judge class predictions; the others (``r2``, ``neg_rmse``) need regressors.
CLASSIFICATION_SCORERS = frozenset(
    {"accuracy", "balanced_accuracy", "f1", "roc_auc", "neg_log_loss", "neg_brier"}
)


def get_scorer(scoring: str | ScorerFunction | Scorer) -> Scorer:
    """Return the :class:`Scorer` for a name or wrap a callable.

    Parameters
    ----------
    scoring : str or callable
        One of ``accuracy``, ``balanced_accuracy``, ``f1``, ``roc_auc``, ``r2``,
        ``neg_rmse``, ``neg_log_loss``, ``neg_brier``, or
        ``callable(model, X, y) -> float`` (higher better).

    Raises
    ------
    ValueError
        For an unknown name.
    """
    if isinstance(scoring, Scorer):
        return scoring
    if isinstance(scoring, str):
        if scoring not in SCORERS:
            raise ValueError(f"unknown scorer {scoring!r}; choose one of {sorted(SCORERS)}")
        return Scorer(SCORERS[scoring], scoring)
    if callable(scoring):
        return Scorer(scoring, getattr(scoring, "__name__", "custom"))
    raise ValueError(f"scoring must be a scorer name or a callable, not {type(scoring).__name__}")
