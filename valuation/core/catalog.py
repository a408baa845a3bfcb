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


def payout_metric(metric: str, task: Task) -> str:
    """The metric a task's payout split is measured on (its price is on ``metric``).

    Classification splits by the Brier score of the consumer's model: the smooth
    counterpart of accuracy-like metrics, which jump by whole validation rows, so the
    row-level values behind a split are several times less noisy for the same fits
    (``benchmarks/manipulation.py``). Regression metrics are smooth already and are used
    as they are.
    """
    check_metric(metric, task)
    return "neg_brier" if task == "classification" else metric


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
