"""Data-OOB (Kwon & Zou, 2023): each player's score under the bagged learners that never saw it.

A bag is a bootstrap sample of the players (rows, or groups when the Dataset has groups),
drawn with replacement; a learner is fitted on the rows of the players in the bag plus any
baseline rows. A player drawn twice counts twice: its rows get weight 2 when the learner's
``fit`` takes ``sample_weight`` (as in scikit-learn's forests), else they are repeated.
A player is *out of bag* for the learners whose bag missed it, and its value is the mean
over those learners of its score ``T``:

* classification: ``T = 1[prediction = label]`` (out-of-bag accuracy);
* regression: ``T = −(prediction − label)²`` (negative squared error);

for a group, ``T`` is the mean over its rows. Low values point at rows that disagree with
what the rest of the data predicts — typically mislabelled ones. The value is not a
Shapley value (no efficiency), so it ranks rows; it is no share of a payout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

import numpy as np
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils.validation import has_fit_parameter

from valuation.core.chunking import chunk_seed, resolve_seed, sample_rng
from valuation.core.dataset import Dataset
from valuation.core.methods.base import RowValuation
from valuation.core.progress import ProgressCallback, ProgressReporter
from valuation.core.result import ValuationResult, merge_moments

Task = Literal["auto", "classification", "regression"]

#: Seeds handed to a learner's ``random_state`` lie in [0, 2**31 − 1).
_SEED_LIMIT = 2**31 - 1


class DataOOB(RowValuation):
    """Out-of-bag values of the players of a Dataset.

    Parameters
    ----------
    n_estimators : int, default 200
        Number of bags (learners). A player is out of a bag with probability about
        ``e⁻¹ ≈ 0.37``, so with ``B`` bags it is never out of bag with probability about
        ``0.63**B``: negligible at the default, real below ~20.
    base : scikit-learn estimator, optional
        The learner, cloned for every bag. Default: a decision tree as in a random forest,
        ``DecisionTreeClassifier(max_features="sqrt")`` or ``DecisionTreeRegressor()``.
        Every parameter named ``random_state`` is set per bag from the run's seed.
    max_samples : int or float, default 1.0
        Players drawn per bag: an int count, or a fraction in (0, 1] of the players.
    task : {"auto", "classification", "regression"}, default "auto"
        "auto" follows ``base`` (classifier or regressor) and, without one, the labels:
        floating-point labels mean regression.
    bags : sequence of sequences of int, optional
        Explicit bags (player indices, repeats allowed) to use instead of random draws;
        then ``n_estimators`` and ``max_samples`` are not used. For reproducing a run or
        checking the method by hand.
    random_state : int or None, default None
        Seed of the run. Bag ``b`` draws its players and its learner's seed from
        :func:`~valuation.core.chunking.sample_rng` ``(seed, b)``, so any chunking of the
        bags gives the same values. None draws fresh entropy (recorded in ``seed_``).
    progress : callable, optional
        ``progress(done_fraction, info)`` after every bag.

    Attributes
    ----------
    result_ : ValuationResult
        ``values`` are the mean scores, ``counts`` the bags a player was out of, ``stderr``
        the standard error of that mean (inf below two bags).
    never_out_of_bag_ : numpy.ndarray of bool
        Players no bag missed. They have ``counts == 0`` and, so that they fall at neither
        end of a ranking, the **mean value of the other players** (0 if no player was ever
        out of bag); never NaN.
    n_utility_evaluations_ : int
        Learners fitted.
    seed_ : int
        The seed used.

    Notes
    -----
    The chunk protocol's units are the bags: ``fit_chunk`` fits bags ``[start, stop)``
    and needs an integer ``random_state`` shared by all chunks. Its partial counts, per
    player, the bags of the chunk that missed it; players no bag of the chunk missed have
    count 0 and value 0 until :meth:`reduce`.
    """

    method_name: ClassVar[str] = "data-oob"

    def __init__(
        self,
        *,
        n_estimators: int = 200,
        base: Any = None,
        max_samples: int | float = 1.0,
        task: Task = "auto",
        bags: Sequence[Sequence[int]] | None = None,
        random_state: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.base = base
        self.max_samples = max_samples
        self.task = task
        self.bags = bags
        self.random_state = random_state
        self.progress = progress

    def fit(self, train: Dataset, valid: Dataset | None = None, *, baseline=None) -> Self:
        """Fit one learner per bag and score every player on the learners that missed it.

        Parameters
        ----------
        train : Dataset
            The players' rows.
        valid : Dataset, optional
            Not used: Data-OOB scores the training rows themselves. Accepted so that every
            method is called alike, and refused alike when its width differs from train's.
        baseline : Dataset, optional
            Rows added to every learner's training set; never valued.

        Returns
        -------
        self
        """
        return super().fit(train, valid, baseline=baseline)

    def n_units(self, train: Dataset, valid: Dataset | None = None) -> int:
        """Units of work: the bags."""
        self._check_params()
        return len(self.bags) if self.bags is not None else int(self.n_estimators)

    def _finish(self, merged: ValuationResult) -> ValuationResult:
        """Never-out-of-bag players get the mean value; sets ``never_out_of_bag_``."""
        never = merged.counts == 0
        values = merged.values.copy()
        values[never] = merged.values[~never].mean() if (~never).any() else 0.0
        self.never_out_of_bag_ = never
        return ValuationResult(
            values,
            merged.counts,
            merged.names,
            sum_sq_dev=merged.sum_sq_dev,
            method=self.method_name,
        )

    def _problem(
        self, train: Dataset, valid: Dataset | None, baseline: Dataset | None, *, chunked: bool
    ) -> _Bagging:
        """The checked data and the run's seed (recorded in ``seed_``)."""
        self.seed_ = (chunk_seed if chunked else resolve_seed)(self.random_state)
        self._check_data(train, valid, baseline)
        task = self._task(train)
        return _Bagging(train, baseline, self.seed_, task, self._template(task))

    def _partial(self, problem: _Bagging, start: int, stop: int) -> ValuationResult:
        """Fit bags ``[start, stop)`` and return the per-player moments of their scores."""
        train = problem.train
        n_players = train.n_players
        rows_of = _rows_of_players(train)
        draws = self._draws(n_players)
        report = ProgressReporter(self.progress)
        moments = (np.zeros(n_players, dtype=np.int64), np.zeros(n_players), np.zeros(n_players))
        for b in range(start, stop):
            rng = sample_rng(problem.seed, b)
            bag = (
                np.asarray(self.bags[b], dtype=np.int64)
                if self.bags is not None
                else rng.integers(0, n_players, size=draws)
            )
            learner = _seeded(problem.template, int(rng.integers(_SEED_LIMIT)))
            scored, scores = _bag_scores(
                learner, train, problem.baseline, bag, rows_of, problem.task
            )
            moments = merge_moments(moments, (scored.astype(np.int64), scores, np.zeros(n_players)))
            report(
                (b - start + 1) / (stop - start),
                method=self.method_name,
                n_units_done=b - start + 1,
                n_units=stop - start,
                n_evaluations=b - start + 1,
            )
        if start == stop:
            report(1.0, method=self.method_name, n_units_done=0, n_units=0, n_evaluations=0)
        self.n_utility_evaluations_ = stop - start
        counts, means, sum_sq_dev = moments
        return ValuationResult(
            means, counts, train.player_names, sum_sq_dev=sum_sq_dev, method=self.method_name
        )

    def _check_params(self) -> None:
        if self.bags is None:
            n = self.n_estimators
            if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
                raise ValueError(f"n_estimators must be a positive int, got {n!r}")
        elif len(self.bags) == 0:
            raise ValueError("bags is empty")
        if self.task not in ("auto", "classification", "regression"):
            raise ValueError(
                f"task must be 'auto', 'classification' or 'regression', not {self.task!r}"
            )

    def _check_data(self, train: Dataset, valid: Dataset | None, baseline: Dataset | None) -> None:
        if not isinstance(train, Dataset):
            raise ValueError(f"train must be a Dataset, not {type(train).__name__}")
        train.check_features(valid=valid, baseline=baseline)
        if self.bags is not None:
            for b, bag in enumerate(self.bags):
                players = np.asarray(bag)
                if players.ndim != 1 or players.size == 0:
                    raise ValueError(f"bag {b} must be a non-empty sequence of player indices")
                if players.min() < 0 or players.max() >= train.n_players:
                    raise ValueError(f"bag {b} has players outside [0, {train.n_players})")

    def _draws(self, n_players: int) -> int:
        """Players per random bag, from ``max_samples``."""
        share = self.max_samples
        if isinstance(share, bool):
            raise ValueError(f"max_samples must be an int or a float, not {share!r}")
        if isinstance(share, int | np.integer):
            if share < 1:
                raise ValueError(f"max_samples must be at least 1, got {share}")
            return int(share)
        if not 0.0 < float(share) <= 1.0:
            raise ValueError(f"a fractional max_samples must lie in (0, 1], got {share}")
        return max(1, round(float(share) * n_players))

    def _task(self, train: Dataset) -> Literal["classification", "regression"]:
        self._check_params()
        if self.task != "auto":
            return self.task
        if self.base is not None and is_classifier(self.base):
            return "classification"
        if self.base is not None and is_regressor(self.base):
            return "regression"
        return "regression" if train.y.dtype.kind == "f" else "classification"

    def _template(self, task: str) -> Any:
        if self.base is not None:
            return self.base
        if task == "classification":
            return DecisionTreeClassifier(max_features="sqrt")
        return DecisionTreeRegressor()


@dataclass(frozen=True)
class _Bagging:
    """One run's checked data, seed, task and learner template."""

    train: Dataset
    baseline: Dataset | None
    seed: int
    task: Literal["classification", "regression"]
    template: Any


def _rows_of_players(train: Dataset) -> list[np.ndarray] | None:
    """Rows of each player, or None when players are rows."""
    if train.groups is None:
        return None
    order = np.argsort(train.player_of_row, kind="stable")
    bounds = np.cumsum(train.player_sizes)[:-1]
    return np.split(order, bounds)


def _seeded(template: Any, seed: int) -> Any:
    """A clone of ``template`` with every ``random_state`` parameter set to ``seed``."""
    learner = clone(template)
    seeds = {
        key: seed
        for key in learner.get_params(deep=True)
        if key == "random_state" or key.endswith("__random_state")
    }
    return learner.set_params(**seeds) if seeds else learner


def _bag_scores(
    learner: Any,
    train: Dataset,
    baseline: Dataset | None,
    bag: np.ndarray,
    rows_of: list[np.ndarray] | None,
    task: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit on one bag; return which players it missed and their scores (0 elsewhere)."""
    n_players = train.n_players
    draws = np.bincount(bag, minlength=n_players)
    missed = draws == 0
    weights = None
    if has_fit_parameter(learner, "sample_weight"):
        # Each in-bag row once, weighted by its draws: trees then skip the out-of-bag rows
        # instead of sorting repeated ones (scikit-learn's forests do the same).
        rows = np.flatnonzero(~missed[train.player_of_row])
        weights = draws[train.player_of_row[rows]].astype(np.float64)
    else:
        rows = bag if rows_of is None else np.concatenate([rows_of[p] for p in bag])
    X, y = train.X[rows], train.y[rows]
    if baseline is not None:
        X = np.concatenate([baseline.X, X])
        y = np.concatenate([baseline.y, y])
        if weights is not None:
            weights = np.concatenate([np.ones(baseline.n_rows), weights])
    if weights is None:
        learner.fit(X, y)
    else:
        learner.fit(X, y, sample_weight=weights)
    out_rows = np.flatnonzero(missed[train.player_of_row])
    scores = np.zeros(n_players)
    if out_rows.size == 0:
        return missed, scores
    predicted = learner.predict(train.X[out_rows])
    truth = train.y[out_rows]
    if task == "classification":
        row_scores = (predicted == truth).astype(np.float64)
    else:
        row_scores = -np.square(np.asarray(predicted, dtype=np.float64) - truth.astype(np.float64))
    # The out-of-bag rows are all the rows of the missed players.
    sums = train.player_sums(row_scores, rows=out_rows)
    np.divide(sums, train.player_sizes, out=scores, where=missed)
    return missed, scores
