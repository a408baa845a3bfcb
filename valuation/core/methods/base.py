"""Shared machinery of the valuation methods: the fit/chunk entry points and two families.

* :class:`Valuation` — builds the game (a :class:`~valuation.core.game.Game` passed directly,
  or model + scorer bound to Datasets) and declares the chunk protocol of
  :mod:`valuation.core.chunking`.
* :class:`CoalitionsValuation` — methods that evaluate a planned list of coalitions into a
  :class:`~valuation.core.chunking.UtilityTable` and reduce it (``fit`` and ``fit_chunk``
  shared); :class:`TableValuation` is the case where the units are a complete table kind
  and ``reduce`` combines all of them (exact methods, LOO). ``LeastCore`` plans its own.
* :class:`SamplingValuation` — methods that average i.i.d. samples; sample ``j`` uses
  :func:`~valuation.core.chunking.sample_rng` ``(seed, j)``; a subclass only says how one
  sample turns into per-player contributions (:meth:`SamplingValuation._sample`).
* :class:`RowValuation` — the row-level methods that need no coalition game (closed forms,
  bags, a transport plan): they value rows from the data itself, sum them per player with
  :meth:`Dataset.player_sums <valuation.core.dataset.Dataset.player_sums>`, and share
  ``fit``, the chunk checks and ``reduce``; a subclass checks its inputs
  (:meth:`RowValuation._problem`) and does units (:meth:`RowValuation._partial`).

Methods whose partial is a :class:`~valuation.core.result.ValuationResult` of their own
reduce it with :class:`MergedResult`.
"""

from __future__ import annotations

import abc
from collections import deque
from typing import Any, ClassVar, Self

import numpy as np
from sklearn.base import BaseEstimator

from valuation.core.chunking import (
    TableKind,
    UtilityTable,
    chunk_seed,
    resolve_seed,
    sample_rng,
    table_units,
    unit_mask,
)
from valuation.core.dataset import Dataset
from valuation.core.game import Game, RunUtility
from valuation.core.progress import ProgressReporter
from valuation.core.result import ValuationResult, merge_moments
from valuation.core.stopping import MaxSamples, RunState, StoppingRule
from valuation.core.utility import ModelUtility

#: Stopping rule of sampling methods whose ``stop`` is None.
DEFAULT_STOP = MaxSamples(100)


class Valuation(BaseEstimator, abc.ABC):
    """Base class of every method: one ``fit`` and the three chunk entry points.

    Subclasses store their keyword parameters in ``__init__`` (scikit-learn style) and must
    have ``model``, ``scorer``, ``cache`` and ``progress`` among them.
    """

    #: Name stored in results; partials of different methods never merge.
    method_name: ClassVar[str]

    model: Any
    scorer: Any
    cache: Any
    progress: Any

    @abc.abstractmethod
    def fit(self, train: Dataset | Game, valid: Dataset | None = None, *, baseline=None) -> Self:
        """Value the players of ``train``; the answer is ``result_``."""

    @abc.abstractmethod
    def n_units(self, train: Dataset | Game, valid: Dataset | None = None) -> int | None:
        """Units of work of the method on ``train`` (None: unbounded samples).

        Every method takes ``valid`` too, so that a caller can ask any method alike; those
        whose units are validation rows read it, the others ignore it.
        """

    @abc.abstractmethod
    def fit_chunk(
        self,
        train: Dataset | Game,
        valid: Dataset | None = None,
        *,
        baseline: Dataset | None = None,
        start: int,
        stop: int,
    ) -> UtilityTable | ValuationResult:
        """Do units ``[start, stop)`` and return a mergeable partial."""

    @abc.abstractmethod
    def reduce(self, partial: UtilityTable | ValuationResult) -> ValuationResult:
        """Turn a merged partial into the method's result."""

    def _game(self, train: Dataset | Game, valid: Dataset | None, baseline: Dataset | None) -> Game:
        """The game to value: ``train`` itself, or the model utility bound to the data."""
        if isinstance(train, Game):
            if valid is not None or baseline is not None:
                raise ValueError("valid and baseline must be None when fitting a Game")
            return train
        if not isinstance(train, Dataset):
            raise ValueError(f"train must be a Dataset or a Game, not {type(train).__name__}")
        if valid is None:
            raise ValueError("valid (a Dataset) is required to value a Dataset")
        if self.model is None:
            raise ValueError(f"{type(self).__name__} needs a model to value a Dataset")
        return ModelUtility(self.model, self.scorer, cache=self.cache).bind(train, valid, baseline)


class CoalitionsValuation(Valuation):
    """A method that evaluates a planned list of coalitions (its units) into a
    :class:`~valuation.core.chunking.UtilityTable` and reduces that table; subclasses
    implement ``n_units``, ``_evaluate`` and ``reduce``."""

    def fit(self, train: Dataset | Game, valid: Dataset | None = None, *, baseline=None) -> Self:
        """Evaluate every unit and reduce.

        Sets ``result_``, ``utility_table_`` (the coalition utilities, reusable for
        pricing) and ``n_utility_evaluations_``.
        """
        game = self._game(train, valid, baseline)
        table = self._evaluate(game, 0, self.n_units(game))
        self.utility_table_ = table
        self.result_ = self.reduce(table)
        return self

    def fit_chunk(
        self,
        train: Dataset | Game,
        valid: Dataset | None = None,
        *,
        baseline: Dataset | None = None,
        start: int,
        stop: int,
    ) -> UtilityTable:
        """Evaluate units ``[start, stop)``; sets ``n_utility_evaluations_`` for the chunk."""
        game = self._game(train, valid, baseline)
        return self._evaluate(game, start, stop)

    @abc.abstractmethod
    def _evaluate(self, game: Game, start: int, stop: int) -> UtilityTable:
        """Evaluate units ``[start, stop)`` of ``game``."""


class TableValuation(CoalitionsValuation):
    """A method computed from the utilities of a fixed set of coalitions (its units)."""

    table_kind: ClassVar[TableKind]

    def _check_size(self, n_players: int) -> None:
        """Refuse games too large for the method (none by default)."""

    def n_units(self, train: Dataset | Game, valid: Dataset | None = None) -> int:
        self._check_size(train.n_players)
        return table_units(self.table_kind, train.n_players)

    def reduce(self, partial: UtilityTable | ValuationResult) -> ValuationResult:
        """The result from a complete table (raises ValueError naming missing units)."""
        if not isinstance(partial, UtilityTable) or partial.kind != self.table_kind:
            raise ValueError(f"{type(self).__name__} reduces a {self.table_kind!r} UtilityTable")
        self._check_size(partial.n_players)
        return self._combine(partial.as_array(), partial.names)

    @abc.abstractmethod
    def _combine(self, utilities: np.ndarray, names: np.ndarray) -> ValuationResult:
        """The result from the utilities of all units, in unit order."""

    def _evaluate(self, game: Game, start: int, stop: int) -> UtilityTable:
        total = self.n_units(game)
        if not 0 <= start <= stop <= total:
            raise ValueError(f"chunk [{start}, {stop}) is outside [0, {total})")
        report = ProgressReporter(self.progress)
        # Progress every 1% of the chunk: often enough for a bar, rare enough for a database.
        step = max(1, (stop - start) // 100)
        utilities = {}
        for unit in range(start, stop):
            utilities[unit] = game.utility_of_mask(unit_mask(self.table_kind, game.n_players, unit))
            done = unit - start + 1
            if done % step == 0 or unit == stop - 1:
                report(
                    done / (stop - start),
                    method=self.method_name,
                    n_units_done=done,
                    n_units=stop - start,
                    n_evaluations=done,
                )
        if start == stop:
            report(1.0, method=self.method_name, n_units_done=0, n_units=0, n_evaluations=0)
        # Units are distinct coalitions, so each one is exactly one evaluation.
        self.n_utility_evaluations_ = stop - start
        return UtilityTable(self.table_kind, game.names, utilities)


class _Moments:
    """Running per-player (count, mean, sum of squared deviations), updated per sample."""

    def __init__(self, n_players: int) -> None:
        self.counts = np.zeros(n_players, dtype=np.int64)
        self.means = np.zeros(n_players)
        self.sum_sq_dev = np.zeros(n_players)

    def add(self, contributions: np.ndarray, informed: np.ndarray | None) -> None:
        ones = np.ones_like(self.counts) if informed is None else informed.astype(np.int64)
        sample = (ones, np.where(ones > 0, contributions, 0.0), np.zeros_like(self.means))
        self.counts, self.means, self.sum_sq_dev = merge_moments(
            (self.counts, self.means, self.sum_sq_dev), sample
        )


class MergedResult:
    """``reduce`` of a method whose partials are its own ValuationResults, merged with ``+``.

    The merged partial is the result once :meth:`_finish` has seen it (as it is, by default).
    """

    method_name: ClassVar[str]

    def reduce(self, partial: UtilityTable | ValuationResult) -> ValuationResult:
        """The result from the merged partials; checks they are this method's."""
        if not isinstance(partial, ValuationResult) or partial.method != self.method_name:
            raise ValueError(f"{type(self).__name__} reduces a {self.method_name!r} result")
        return self._finish(partial)

    def _finish(self, merged: ValuationResult) -> ValuationResult:
        """The result from the checked, merged partials (they are it by default)."""
        return merged


class SamplingValuation(MergedResult, Valuation):
    """A Monte Carlo method: the mean over samples ``j = 0, 1, …`` of per-player contributions.

    Subclasses must have ``random_state`` and ``stop`` parameters and implement
    :meth:`_sample`; they may override :meth:`_prepare` and :meth:`_total_gain`.
    """

    random_state: Any
    stop: StoppingRule | None

    def n_units(self, train: Dataset | Game, valid: Dataset | None = None) -> None:
        """Samples are unbounded: the app chooses ranges and checks ``stopping_rule()``."""
        return None

    def stopping_rule(self) -> StoppingRule:
        """The rule ``fit`` obeys: ``stop``, or ``DEFAULT_STOP`` when it is None."""
        return DEFAULT_STOP if self.stop is None else self.stop

    def fit(self, train: Dataset | Game, valid: Dataset | None = None, *, baseline=None) -> Self:
        """Draw samples until the stopping rule is met.

        Sets ``result_``, ``n_utility_evaluations_`` (distinct coalitions evaluated),
        ``n_samples_`` and ``seed_`` (the seed used; fresh entropy when ``random_state`` is
        None, recorded so the run can be repeated).
        """
        game = self._game(train, valid, baseline)
        seed = resolve_seed(self.random_state)
        rule = self.stopping_rule()
        run = RunUtility(game)
        self._prepare(run)
        moments = _Moments(game.n_players)
        rankings: deque[np.ndarray] = deque(maxlen=max(1, rule.history_length))
        report = ProgressReporter(self.progress)
        n_samples = 0
        while True:
            moments.add(*self._sample(run, sample_rng(seed, n_samples)))
            n_samples += 1
            result = self._result(moments, game, run)
            if rule.history_length:
                rankings.append(result.ranking())
            state = RunState(result, n_samples, run.n_evaluations, tuple(rankings))
            finished = rule.done(state)
            report(
                1.0 if finished else rule.completion(state),
                method=self.method_name,
                n_samples=n_samples,
                n_evaluations=run.n_evaluations,
            )
            if finished:
                break
        self.result_ = result
        self.n_utility_evaluations_ = run.n_evaluations
        self.n_samples_ = n_samples
        self.seed_ = seed
        return self

    def fit_chunk(
        self,
        train: Dataset | Game,
        valid: Dataset | None = None,
        *,
        baseline: Dataset | None = None,
        start: int,
        stop: int,
    ) -> ValuationResult:
        """Draw exactly samples ``[start, stop)`` (the stopping rule is not consulted).

        Needs an integer ``random_state``. Sets ``n_utility_evaluations_`` for the chunk.
        """
        chunk_seed(self.random_state)
        if not 0 <= start <= stop:
            raise ValueError(f"invalid chunk [{start}, {stop})")
        game = self._game(train, valid, baseline)
        seed = resolve_seed(self.random_state)
        run = RunUtility(game)
        moments = _Moments(game.n_players)
        report = ProgressReporter(self.progress)
        if stop > start:
            self._prepare(run)
        for j in range(start, stop):
            moments.add(*self._sample(run, sample_rng(seed, j)))
            report(
                (j - start + 1) / (stop - start),
                method=self.method_name,
                n_samples=j - start + 1,
                n_evaluations=run.n_evaluations,
            )
        if start == stop:
            report(1.0, method=self.method_name, n_samples=0, n_evaluations=0)
        self.n_utility_evaluations_ = run.n_evaluations
        return self._result(moments, game, run)

    def _prepare(self, run: RunUtility) -> None:
        """Evaluate what every sample needs before the first one (nothing by default)."""

    def _total_gain(self, run: RunUtility) -> float | None:
        """``U(all) − U(∅)`` if the run knows it (None by default)."""
        return None

    @abc.abstractmethod
    def _sample(
        self, run: RunUtility, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """One sample: per-player contributions and which players it informs (None: all)."""

    def _result(self, moments: _Moments, game: Game, run: RunUtility) -> ValuationResult:
        return ValuationResult(
            moments.means,
            moments.counts,
            game.names,
            sum_sq_dev=moments.sum_sq_dev,
            method=self.method_name,
            total_gain=self._total_gain(run) if moments.counts.any() else None,
        )


class RowValuation(MergedResult, BaseEstimator, abc.ABC):
    """Base class of the row-level methods that need no coalition game.

    A row-level method values every row from the data itself (a closed form, bags of
    learners, a transport plan) and a player is worth the sum of its rows' values
    (:meth:`Dataset.player_sums <valuation.core.dataset.Dataset.player_sums>`). Its units
    of work are its own — validation rows, bags, or one unit for the whole computation —
    and every chunk's partial is a :class:`~valuation.core.result.ValuationResult` that
    merges with ``+``.

    Subclasses store their keyword parameters in ``__init__`` (scikit-learn style), set
    ``method_name`` and implement :meth:`n_units`, :meth:`_problem` and :meth:`_partial`;
    they may override :meth:`_finish` (see :class:`MergedResult`).
    """

    def fit(self, train: Dataset, valid: Dataset | None = None, *, baseline=None) -> Self:
        """Value the players of ``train`` (on ``valid``, with ``baseline`` always present,
        where the method reads them): every unit, reduced. The answer is ``result_``.

        Returns
        -------
        self
        """
        problem = self._problem(train, valid, baseline, chunked=False)
        self.result_ = self.reduce(self._partial(problem, 0, self.n_units(train, valid)))
        return self

    def fit_chunk(
        self,
        train: Dataset,
        valid: Dataset | None = None,
        *,
        baseline: Dataset | None = None,
        start: int,
        stop: int,
    ) -> ValuationResult:
        """Do units ``[start, stop)`` only and return the partial; chunks merge with ``+``
        into what :meth:`reduce` turns into the result of ``fit``."""
        problem = self._problem(train, valid, baseline, chunked=True)
        total = self.n_units(train, valid)
        if not 0 <= start <= stop <= total:
            raise ValueError(f"chunk [{start}, {stop}) is outside [0, {total})")
        return self._partial(problem, start, stop)

    @abc.abstractmethod
    def n_units(self, train: Dataset, valid: Dataset | None = None) -> int:
        """Units of work of the method on ``train`` and ``valid``."""

    @abc.abstractmethod
    def _problem(
        self, train: Dataset, valid: Dataset | None, baseline: Dataset | None, *, chunked: bool
    ) -> Any:
        """Check the parameters and the data (ValueError naming what is wrong) and return
        what :meth:`_partial` needs; ``chunked`` says whether only some units will be done."""

    @abc.abstractmethod
    def _partial(self, problem: Any, start: int, stop: int) -> ValuationResult:
        """Units ``[start, stop)`` of ``problem`` as a partial; sets
        ``n_utility_evaluations_`` (models fitted) and what the method reports besides."""
