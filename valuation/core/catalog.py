"""The models and metrics a consumer can pick for a task, by name, per learning task.

Every model is a scikit-learn estimator with fixed seeds (so a coalition's utility is the
same on every worker), scaled where the algorithm needs it, and sized to be fitted hundreds
of times during a valuation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

Task = Literal["classification", "regression"]

MODELS: dict[str, dict[Task, Callable[[], Any]]] = {
    "logistic_regression": {
        "classification": lambda: make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=1000)
        ),
    },
    "ridge": {
        "regression": lambda: make_pipeline(StandardScaler(), Ridge(alpha=1.0)),
    },
    "random_forest": {
        "classification": lambda: RandomForestClassifier(n_estimators=50, random_state=0),
        "regression": lambda: RandomForestRegressor(n_estimators=50, random_state=0),
    },
    "gradient_boosting": {
        "classification": lambda: HistGradientBoostingClassifier(max_iter=50, random_state=0),
        "regression": lambda: HistGradientBoostingRegressor(max_iter=50, random_state=0),
    },
    "knn": {
        "classification": lambda: make_pipeline(StandardScaler(), KNeighborsClassifier(5)),
        "regression": lambda: make_pipeline(StandardScaler(), KNeighborsRegressor(5)),
    },
}

MODEL_LABELS = {
    "logistic_regression": "Logistic regression",
    "ridge": "Ridge regression",
    "random_forest": "Random forest",
    "gradient_boosting": "Gradient boosting",
    "knn": "k-nearest neighbours (k=5)",
}

METRICS: dict[str, Task] = {
    "accuracy": "classification",
    "balanced_accuracy": "classification",
    "f1": "classification",
    "roc_auc": "classification",
    "neg_log_loss": "classification",
    "neg_brier": "classification",
    "r2": "regression",
    "neg_rmse": "regression",
}

METRIC_LABELS = {
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "f1": "F1 (binary; macro over classes otherwise)",
    "roc_auc": "ROC AUC",
    "neg_log_loss": "Negative log loss",
    "neg_brier": "Negative Brier score",
    "r2": "R²",
    "neg_rmse": "Negative RMSE",
}

DEFAULT_MODEL: dict[Task, str] = {"classification": "logistic_regression", "regression": "ridge"}
DEFAULT_METRIC: dict[Task, str] = {"classification": "accuracy", "regression": "r2"}


#: Metrics whose small coalitions can score far below the empty one — a one-class constant
#: predictor is sure of its class (probability metrics), a linear fit on three rows
#: extrapolates to an R² of −100 (regression) — so a row-level game floors them there.
FLOORED_METRICS = frozenset({"neg_brier", "neg_log_loss", "r2", "neg_rmse"})


def payout_basis(metric: str, task: Task) -> tuple[str, bool]:
    """What a task's payout split is measured on: the scorer of the row-level game and
    whether no coalition is valued below the empty one
    (:class:`~valuation.core.utility.ModelUtility`'s ``floor``).

    The consumer's own metric, so the price and the split measure the same thing. Metrics
    in :data:`FLOORED_METRICS` are floored (the buyer keeps its baseline, or the prior,
    rather than a worse model): their tiny coalitions would otherwise swamp the values.
    Accuracy-like metrics are not: a small model scores about the prior there, and a floor
    would hide what harmful rows do to the coalitions they dominate
    (``benchmarks/manipulation.py`` measures both).
    """
    check_metric(metric, task)
    return metric, metric in FLOORED_METRICS


def models_for(task: Task) -> list[str]:
    return [name for name, builders in MODELS.items() if task in builders]


def metrics_for(task: Task) -> list[str]:
    return [name for name, kind in METRICS.items() if kind == task]


def make_model(name: str, task: Task) -> Any:
    """A fresh, unfitted estimator; ValueError names the choices when ``name`` does not fit."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    if task not in MODELS[name]:
        raise ValueError(
            f"model {name!r} does not do {task}; choose one of {', '.join(models_for(task))}"
        )
    return MODELS[name][task]()


def check_metric(name: str, task: Task) -> str:
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; choose one of {', '.join(METRICS)}")
    if METRICS[name] != task:
        raise ValueError(
            f"metric {name!r} is for {METRICS[name]}; this task is {task} "
            f"(choose one of {', '.join(metrics_for(task))})"
        )
    return name
