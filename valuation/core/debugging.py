"""Model debugging: which training rows a wrong prediction, or a model's conclusion, rests on.

Two questions a consumer asks of a fitted model, answered in terms of training rows:

* :func:`explain_mispredictions` — for each validation row the model gets wrong, the training
  rows that pulled its prediction away from the true label (the most negative per-point
  KNN-Shapley values, Jia et al. 2019);
* :func:`sensitivity_report` — how few training rows, dropped, would raise the validation
  loss by a given share or flip the sign of a coefficient (AMIP, Broderick, Giordano &
  Meager), every prediction confirmed by refitting without the rows.

Rows are reported as :class:`~valuation.core.report.RowRef`: the group (provider dataset) a
row belongs to (``player``) and its 0-based position within that group, or ``player`` None and
the position in the training set when it is not grouped — the coordinates a provider or a file
reader can find. Both functions return records of :mod:`valuation.core.report`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from scipy.special import logsumexp
from sklearn.base import clone, is_regressor
from sklearn.utils.multiclass import type_of_target

from valuation.core.dataset import Dataset
from valuation.core.methods.influence import AMIP
from valuation.core.methods.knn import KNNShapley
from valuation.core.report import (
    CoefficientFinding,
    LossFinding,
    Misprediction,
    RowRef,
    Sensitivity,
)

#: L2 penalty of the surrogate models of :func:`sensitivity_report` (``C = 1`` / ``Ridge(1)``).
SENSITIVITY_ALPHA = 1.0


def explain_mispredictions(
    train: Dataset,
    valid: Dataset,
    *,
    model: Any,
    k: int = 5,
    top: int = 5,
    max_points: int = 20,
) -> list[Misprediction]:
    """The training rows behind each wrong prediction of ``model`` on ``valid``.

    The model is fitted on ``train`` and its mistakes on ``valid`` are explained through a
    **k-NN surrogate**: each training row's per-point KNN-Shapley value for the mispredicted
    row. A general model has no closed-form attribution of one prediction to training rows
    (leave-one-out would mean a refit per row and per point), whereas the k-NN utility has
    exact Shapley values in one sort; and a row that the k-NN game scores negatively for a
    point is a near neighbour carrying another label — what also misleads most models in that
    region. A row's value for a point is negative when it sits among the nearest rows with a
    label other than the true one, so the most negative rows are the ones that pulled the
    prediction away from the truth. Rows of equal value (the k-NN game cannot tell the ``k``
    nearest apart) are listed nearest first.

    Parameters
    ----------
    train : Dataset
        Training rows; groups, if any, only name where each row comes from.
    valid : Dataset
        Validation rows with their true labels.
    model : scikit-learn classifier
        Cloned and fitted on ``train``. A training set with a single label predicts that
        label (most classifiers refuse to fit one class).
    k : int, default 5
        Neighbours of the k-NN surrogate.
    top : int, default 5
        Most drivers listed per mispredicted row.
    max_points : int, default 20
        Most mispredicted rows explained, in validation order.

    Returns
    -------
    list of Misprediction
        One per explained row: ``valid_row`` (0-based), ``label`` (true), ``predicted``, and
        ``drivers``: up to ``top`` row references with their ``label`` and ``value``, most
        negative value first; rows with a value ``>= 0`` are never drivers.

    Raises
    ------
    ValueError
        For a regression model or continuous labels, for ``k``, ``top`` or ``max_points``
        below 1, or for feature counts that differ.
    """
    for name, number in (("k", k), ("top", top), ("max_points", max_points)):
        if isinstance(number, bool) or not isinstance(number, int | np.integer) or number < 1:
            raise ValueError(f"{name} must be a positive int, got {number!r}")
    if is_regressor(model) or type_of_target(train.y) == "continuous":
        raise ValueError(
            "explain_mispredictions is for classification: a regression model or continuous "
            "labels have no mispredicted rows to explain"
        )
    train.check_features(valid=valid)
    predicted = _predict(model, train, valid.X)
    wrong = np.flatnonzero(predicted != valid.y)[:max_points]
    if wrong.size == 0:
        return []
    # Only the mispredicted rows are valued; groups are summed by KNNShapley, so the rows
    # are made players and named afterwards.
    knn = KNNShapley(k=k).fit(Dataset(train.X, train.y), Dataset(valid.X[wrong], valid.y[wrong]))
    values = knn.point_values(np.arange(wrong.size))
    located = _Locations(train)
    explained = []
    for point, row in enumerate(wrong):
        distance = np.square(train.X - valid.X[row]).sum(axis=1)
        order = np.lexsort((np.arange(train.n_rows), distance, values[point]))
        drivers = [int(i) for i in order[:top] if values[point, i] < 0]
        explained.append(
            Misprediction(
                valid_row=int(row),
                label=_scalar(valid.y[row]),
                predicted=_scalar(predicted[row]),
                drivers=tuple(
                    located.at(i, label=_scalar(train.y[i]), value=float(values[point, i]))
                    for i in drivers
                ),
            )
        )
    return explained


def sensitivity_report(
    train: Dataset,
    valid: Dataset,
    *,
    task: Literal["classification", "regression"],
    loss_increase: float = 0.1,
    max_coefficients: int = 5,
    random_state: int | None = None,
) -> Sensitivity:
    """How few training rows a linear surrogate's conclusions rest on, confirmed by refit.

    The surrogate is ``"logistic"`` (classification) or ``"ridge"`` (regression) with
    ``alpha = 1`` — the minimisers of scikit-learn's ``LogisticRegression(C=1)`` and
    ``Ridge(1)`` — fitted by :class:`~valuation.core.methods.influence.AMIP` on the rows of
    ``train`` (one player per row, groups only name them). Features are **standardised**
    with the training rows' mean and standard deviation (a constant column is only centred)
    first: the L2 penalty then weighs every feature alike instead of by its units, a
    coefficient reads as the effect of one standard deviation, so coefficients can be ranked
    against each other, and the Hessian AMIP inverts stays well conditioned. The scaling is
    fixed before any row is dropped, so a refit changes the model, not the units.

    Two conclusions are tested. (1) The mean validation loss (log loss or squared error):
    the fewest rows whose removal is predicted to push it to ``(1 + loss_increase) ×`` its
    current value. (2) Each coefficient's sign: the fewest rows whose removal flips it; the
    ``max_coefficients`` most fragile (smallest ``k``) are reported. Every found set is
    dropped and the model refitted to confirm.

    **Multi-class labels** report the loss only (``coefficients`` is empty): a multinomial
    model's coefficients are log-odds against an arbitrary reference class, whose signs say
    nothing about the feature on its own.

    Parameters
    ----------
    train, valid : Dataset
        Training rows (the players) and validation rows (the loss).
    task : {"classification", "regression"}
    loss_increase : float, default 0.1
        Relative rise of the validation loss to look for (0.1: 10 %); > 0.
    max_coefficients : int, default 5
        Coefficients reported, most fragile first; >= 0.
    random_state : int, optional
        Accepted for the same signature as the other data-centric reports; the analysis is
        deterministic (closed-form scores and Newton refits) and does not use it.

    Returns
    -------
    Sensitivity
        ``model``, ``n_rows``, ``loss`` and ``coefficients``. ``loss`` has ``name``,
        ``original`` (the surrogate's validation loss), ``threshold``, ``k`` (rows to drop;
        None when even dropping every row on the harmful side is predicted not to reach the
        threshold), ``share`` (``k / n_rows``), ``refit`` (the loss after refitting without
        them), ``confirmed`` (refit loss ``>=`` threshold) and ``rows``. Each coefficient has
        ``name``, ``estimate`` (per standard deviation), ``k``, ``share``, ``refit`` (the
        refitted coefficient), ``confirmed`` (its sign flipped or reached 0) and ``rows``.
        ``refit`` and ``confirmed`` are None when ``k`` is, or when the refit is singular.

    Raises
    ------
    ValueError
        For a bad ``task``, ``loss_increase`` or ``max_coefficients``, a single training
        class, labels of ``valid`` unseen in ``train``, or a singular or separable fit.
    """
    del random_state  # deterministic; see the docstring
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', not {task!r}")
    if not loss_increase > 0:
        raise ValueError(f"loss_increase must be > 0, got {loss_increase!r}")
    if isinstance(max_coefficients, bool) or not isinstance(max_coefficients, int | np.integer):
        raise ValueError(f"max_coefficients must be an int, got {max_coefficients!r}")
    if max_coefficients < 0:
        raise ValueError(f"max_coefficients must be >= 0, got {max_coefficients}")
    train.check_features(valid=valid)
    model = "logistic" if task == "classification" else "ridge"
    classes = np.unique(train.y) if task == "classification" else None
    if classes is not None and classes.size < 2:
        raise ValueError(f"the training labels have a single class ({classes[0]!r})")
    binary = classes is None or classes.size == 2
    center = train.X.mean(axis=0)
    scale = train.X.std(axis=0)
    scale[scale == 0] = 1.0
    rows = Dataset((train.X - center) / scale, train.y, feature_names=_feature_names(train))
    held = Dataset((valid.X - center) / scale, valid.y)
    fit = AMIP(model=model, alpha=SENSITIVITY_ALPHA, signals=("sign",) if binary else ()).fit(rows)
    original = _validation_loss(model, fit.coef_, held, classes)
    threshold = (1.0 + float(loss_increase)) * original
    moved = AMIP(model=model, alpha=SENSITIVITY_ALPHA, signals=(), metric_threshold=threshold)
    loss = moved.fit(rows, held).result_.get("validation_loss", "threshold")
    located = _Locations(train)
    coefficients = sorted(
        fit.result_.signals, key=lambda signal: (signal.k is None, signal.k or 0)
    )[:max_coefficients]
    return Sensitivity(
        model=model,
        n_rows=train.n_rows,
        loss=LossFinding(
            name="log loss" if model == "logistic" else "squared error",
            original=original,
            threshold=threshold,
            k=loss.k,
            share=loss.apip,
            refit=None if loss.refit is None else loss.refit + threshold,
            confirmed=loss.confirmed,
            rows=tuple(located.at(p) for p in loss.players),
        ),
        coefficients=tuple(
            CoefficientFinding(
                name=signal.target,
                estimate=signal.original,
                k=signal.k,
                share=signal.apip,
                refit=signal.refit,
                confirmed=signal.confirmed,
                rows=tuple(located.at(p) for p in signal.players),
            )
            for signal in coefficients
        ),
    )


def _predict(model: Any, train: Dataset, X: np.ndarray) -> np.ndarray:
    """Predictions of ``clone(model)`` fitted on ``train``; one training label predicts itself."""
    labels = np.unique(train.y)
    if labels.size == 1:
        return np.full(X.shape[0], labels[0], dtype=train.y.dtype)
    return np.asarray(clone(model).fit(train.X, train.y).predict(X))


class _Locations:
    """The :class:`~valuation.core.report.RowRef` of a training row (see the module
    docstring), by index: the position of every row within its player, kept as one array
    rather than a reference per row (a million rows would take hundreds of MB for the few
    rows a report names)."""

    def __init__(self, train: Dataset) -> None:
        self.train = train
        self.position = None
        if train.groups is not None:
            owner = train.player_of_row
            order = np.argsort(owner, kind="stable")
            starts = np.searchsorted(owner[order], np.arange(train.n_players))
            self.position = np.empty(train.n_rows, dtype=np.int64)
            self.position[order] = np.arange(train.n_rows) - starts[owner[order]]

    def at(self, row: int, **said: Any) -> RowRef:
        """The reference of training row ``row``, with what a report ``said`` of it."""
        if self.position is None:
            return RowRef(None, int(row), **said)
        player = self.train.player_names[self.train.player_of_row[row]]
        return RowRef(str(player), int(self.position[row]), **said)


def _feature_names(train: Dataset) -> list[str]:
    if train.feature_names is not None:
        return [str(name) for name in train.feature_names]
    return [f"x{j}" for j in range(train.n_features)]


def _validation_loss(
    model: str, coef: np.ndarray, valid: Dataset, classes: np.ndarray | None
) -> float:
    """Mean validation loss of AMIP's parameters (features first, intercept last)."""
    Z = np.column_stack([valid.X, np.ones(valid.n_rows)])
    if classes is None:
        return float(np.mean((valid.y.astype(np.float64) - Z @ coef) ** 2))
    codes = np.searchsorted(classes, valid.y)
    known = (codes < classes.size) & (classes[np.minimum(codes, classes.size - 1)] == valid.y)
    if not known.all():
        raise ValueError(
            f"validation label {_scalar(valid.y[np.argmin(known)])!r} does not occur in "
            "the training data"
        )
    # The first class is the reference: its logits are fixed at 0 (see methods/influence/models.py).
    logits = np.zeros((valid.n_rows, classes.size))
    logits[:, 1:] = Z @ coef.reshape(Z.shape[1], classes.size - 1)
    return float(np.mean(logsumexp(logits, axis=1) - logits[np.arange(valid.n_rows), codes]))


def _scalar(value: Any) -> Any:
    """A numpy scalar as the matching Python scalar (JSON-safe)."""
    return value.item() if isinstance(value, np.generic) else value
