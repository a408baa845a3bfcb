"""The model utility: U(S) = score on validation data of a model trained on baseline ∪ S.

:class:`ModelUtility` holds the recipe (a scikit-learn model and a scorer);
:meth:`ModelUtility.bind` applies it to data and returns a :class:`ModelGame`.

Degenerate coalitions
---------------------
Some coalitions cannot train the model: no rows, one class only (classification), or fewer
rows than ``min_rows``. Their utility is the validation score of the **constant predictor
fitted on the coalition's rows** (baseline included) — class frequencies, predicting the
most frequent class with ties to the smallest label (classification), or the mean
(regression). The empty coalition without a baseline has no rows; its constant predictor is
fitted on the labels of the whole training set (all players), which depend on the players'
data only, never on the validation set. Every coalition therefore has one deterministic
value: no exception, and never "the previous score".

Floor (optional, ``floor=True``): no coalition is worth less than the empty one, ``U(S) =
max(score(S), U(∅))`` — a buyer keeps what it has (its baseline, or the prior) rather than
deploy a worse model. It matters for the small coalitions of a row-level game: a model fitted
on a handful of rows can score an R² of −100, and a one-class coalition's constant predictor
puts probability 1 on its class (a Brier score twice the prior's); such scores say nothing
about the rows and would swamp the estimate.

Determinism: a model parameter named ``random_state`` (also inside pipelines) left as None
is set to 0 on the clone, so U is a function of the coalition and chunked runs on different
workers agree.

Threads: fits and scores run with BLAS/OpenMP limited to ``n_threads`` (default 1).
Valuation is many small fits, where library threads cost more than they give (measured
~10x slower on a loaded 2-core machine); parallelism belongs to the workers one level up.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

import numpy as np
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.dummy import DummyClassifier, DummyRegressor
from threadpoolctl import ThreadpoolController

from valuation.core.dataset import Dataset
from valuation.core.game import Game, UtilityCache
from valuation.core.scoring import CLASSIFICATION_SCORERS, Scorer, ScorerFunction, get_scorer

Task = Literal["classification", "regression"]


class ModelUtility:
    """Recipe for a model-based game: which model to train and how to score it.

    Parameters
    ----------
    model : scikit-learn estimator
        Cloned (never modified) for every coalition.
    scorer : str or callable, optional
        A name understood by :func:`~valuation.core.scoring.get_scorer` or
        ``callable(model, X, y) -> float``. Default: ``"accuracy"`` for classification,
        ``"r2"`` for regression.
    cache : UtilityCache, optional
        Passed to every bound game; default a fresh in-memory cache per game.
    min_rows : int, optional
        Coalitions with fewer rows (baseline included) get the constant predictor. Default:
        the model's ``n_neighbors`` if it has one (k-NN needs that many rows), else 1.
    task : {"auto", "classification", "regression"}, default "auto"
        "auto" asks scikit-learn whether the model is a classifier or a regressor; for
        other models it follows the scorer (a classification scorer means classification),
        then the labels (floating-point labels mean regression).
    n_threads : int or None, default 1
        BLAS/OpenMP threads per fit; None leaves the libraries' own defaults.
    floor : bool, default False
        Score every coalition at least as high as the empty coalition (module docstring).
    """

    def __init__(
        self,
        model: Any,
        scorer: str | ScorerFunction | Scorer | None = None,
        *,
        cache: UtilityCache | None = None,
        min_rows: int | None = None,
        task: Literal["auto", "classification", "regression"] = "auto",
        n_threads: int | None = 1,
        floor: bool = False,
    ) -> None:
        self.model = model
        self.scorer = scorer
        self.cache = cache
        self.min_rows = min_rows
        self.task = task
        self.n_threads = n_threads
        self.floor = floor

    def bind(self, train: Dataset, valid: Dataset, baseline: Dataset | None = None) -> ModelGame:
        """Return the game whose players are ``train``'s players.

        Parameters
        ----------
        train : Dataset
            The players' data.
        valid : Dataset
            Validation data the model is scored on (its groups are ignored).
        baseline : Dataset, optional
            Rows always in the training set and never a player (the consumer's own data).

        Raises
        ------
        ValueError
            When the feature counts differ or the scorer does not fit the task.
        """
        train.check_features(valid=valid, baseline=baseline)
        task = self._task(train)
        default = "accuracy" if task == "classification" else "r2"
        scorer = get_scorer(default if self.scorer is None else self.scorer)
        if task == "regression" and scorer.name in CLASSIFICATION_SCORERS:
            raise ValueError(f"scorer {scorer.name!r} needs a classifier, not a regressor")
        return ModelGame(
            model=_pinned_clone(self.model),
            scorer=scorer,
            train=train,
            valid=valid,
            baseline=baseline,
            task=task,
            min_rows=self._min_rows(),
            cache=self.cache,
            n_threads=self.n_threads,
            floor=self.floor,
        )

    def _task(self, train: Dataset) -> Task:
        if self.task != "auto":
            return self.task
        if is_classifier(self.model):
            return "classification"
        if is_regressor(self.model):
            return "regression"
        if isinstance(self.scorer, str):
            return "classification" if self.scorer in CLASSIFICATION_SCORERS else "regression"
        return "regression" if train.y.dtype.kind == "f" else "classification"

    def _min_rows(self) -> int:
        if self.min_rows is not None:
            return max(1, int(self.min_rows))
        params = self.model.get_params(deep=True)
        neighbours = [
            int(value)
            for key, value in params.items()
            if (key == "n_neighbors" or key.endswith("__n_neighbors")) and value is not None
        ]
        return max([1, *neighbours])


class ModelGame(Game):
    """The game of :class:`ModelUtility` bound to data (built by :meth:`ModelUtility.bind`).

    ``U(S)`` is ``scorer(model fitted on baseline ∪ rows of S, valid.X, valid.y)``, with the
    degenerate-coalition rule of this module's docstring.
    """

    def __init__(
        self,
        *,
        model: Any,
        scorer: Scorer,
        train: Dataset,
        valid: Dataset,
        baseline: Dataset | None,
        task: Task,
        min_rows: int,
        cache: UtilityCache | None = None,
        n_threads: int | None = 1,
        floor: bool = False,
    ) -> None:
        # Rows without groups are named by position; the game builds those names if read.
        names = None if train.groups is None else train.player_names
        super().__init__(train.n_players, names, cache)
        self.model = model
        self.scorer = scorer
        self.train = train
        self.valid = valid
        self.baseline = baseline
        self.task = task
        self.min_rows = min_rows
        self.n_threads = n_threads
        self.floor = floor

    def _evaluate(self, players: tuple[int, ...]) -> float:
        if self.n_threads is None:
            return self._score(players)
        with _thread_controller().limit(limits=self.n_threads):
            return self._score(players)

    def _score(self, players: tuple[int, ...]) -> float:
        score = self.scorer(self.fitted_model(players), self.valid.X, self.valid.y)
        if self.floor and players:
            score = max(score, self.utility_of_mask(0, ()))
        return score

    def fitted_model(self, players) -> Any:
        """The model this game scores for coalition ``players``: fitted on baseline ∪ their
        rows, or the constant predictor when the coalition is degenerate."""
        X, y = self.training_rows(tuple(players))
        if self.is_degenerate(y):
            return self.constant_model(X, y)
        return clone(self.model).fit(X, y)

    def training_rows(self, players: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Features and labels the model trains on for coalition ``players``."""
        rows = self.train.indices_of(players)
        X, y = self.train.X[rows], self.train.y[rows]
        if self.baseline is not None:
            X = np.concatenate([self.baseline.X, X])
            y = np.concatenate([self.baseline.y, y])
        return X, y

    def is_degenerate(self, y: np.ndarray) -> bool:
        """Whether a coalition with labels ``y`` gets the constant predictor."""
        if y.shape[0] < self.min_rows:
            return True
        return self.task == "classification" and np.unique(y).shape[0] < 2

    def constant_model(self, X: np.ndarray, y: np.ndarray) -> DummyClassifier | DummyRegressor:
        """The constant predictor of the degenerate-coalition rule, fitted on ``(X, y)``.

        With no rows at all it is fitted on the whole training set's labels instead.
        """
        if y.shape[0] == 0:
            X, y = self.train.X, self.train.y
        if self.task == "classification":
            return DummyClassifier(strategy="prior").fit(X, y)
        return DummyRegressor(strategy="mean").fit(X, y)


def _pinned_clone(model: Any) -> Any:
    """Clone ``model`` with every unset ``random_state`` fixed to 0 (see module docstring)."""
    template = clone(model)
    unset = {
        key: 0
        for key, value in template.get_params(deep=True).items()
        if (key == "random_state" or key.endswith("__random_state")) and value is None
    }
    return template.set_params(**unset) if unset else template


@cache
def _thread_controller() -> ThreadpoolController:
    """One controller per process: building it scans the loaded libraries (~20 ms)."""
    return ThreadpoolController()
