"""Stopping rules for sampling methods, composable with ``|`` (either) and ``&`` (both).

A rule looks at a :class:`RunState` — the result so far, samples drawn, distinct
coalitions evaluated, and the recent rankings — and answers two questions: ``done(state)``
(stop now?) and ``completion(state)`` (how far along, in [0, 1], for progress bars). Rules
hold no state and draw no random numbers; whatever they need from the past (the rankings
for :class:`RankStable`) the run keeps for them, as many as ``history_length`` asks for.

Sampling methods check their rule after every sample, so a run stops on the sample that
meets it: :class:`MaxSamples` is exact, :class:`MaxEvaluations` may be exceeded by the cost
of that last sample.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np

from valuation.core.result import ValuationResult


@dataclass(frozen=True)
class RunState:
    """What a stopping rule sees.

    Attributes
    ----------
    result : ValuationResult
        The estimate so far.
    n_samples : int
        Samples drawn so far (permutations, coalitions, …, as the method defines them).
    n_evaluations : int
        Distinct coalitions evaluated so far in this run.
    rankings : tuple of numpy.ndarray
        The latest rankings (``result.ranking()`` after each sample), oldest first, at most
        the rule's ``history_length`` of them.
    """

    result: ValuationResult
    n_samples: int
    n_evaluations: int
    rankings: tuple[np.ndarray, ...] = ()


class StoppingRule(abc.ABC):
    """Base class: subclasses define :meth:`completion` and may refine :meth:`done`."""

    @property
    def history_length(self) -> int:
        """How many recent rankings the rule needs in :attr:`RunState.rankings`."""
        return 0

    @abc.abstractmethod
    def completion(self, state: RunState) -> float:
        """Progress towards stopping, in [0, 1]; 1 exactly when :meth:`done`."""

    def done(self, state: RunState) -> bool:
        """Whether the run should stop."""
        return self.completion(state) >= 1.0

    def __or__(self, other: StoppingRule) -> StoppingRule:
        return AnyOf(self, other)

    def __and__(self, other: StoppingRule) -> StoppingRule:
        return AllOf(self, other)


class AnyOf(StoppingRule):
    """Stop when any rule says so (``a | b``); completion is the furthest rule's."""

    def __init__(self, *rules: StoppingRule) -> None:
        self.rules = rules

    @property
    def history_length(self) -> int:
        return max(rule.history_length for rule in self.rules)

    def completion(self, state: RunState) -> float:
        return max(rule.completion(state) for rule in self.rules)

    def done(self, state: RunState) -> bool:
        return any(rule.done(state) for rule in self.rules)

    def __repr__(self) -> str:
        return "(" + " | ".join(repr(rule) for rule in self.rules) + ")"


class AllOf(StoppingRule):
    """Stop when every rule says so (``a & b``); completion is the laggard's."""

    def __init__(self, *rules: StoppingRule) -> None:
        self.rules = rules

    @property
    def history_length(self) -> int:
        return max(rule.history_length for rule in self.rules)

    def completion(self, state: RunState) -> float:
        return min(rule.completion(state) for rule in self.rules)

    def done(self, state: RunState) -> bool:
        return all(rule.done(state) for rule in self.rules)

    def __repr__(self) -> str:
        return "(" + " & ".join(repr(rule) for rule in self.rules) + ")"


class MaxSamples(StoppingRule):
    """Stop after ``n_samples`` samples (e.g. permutations).

    Parameters
    ----------
    n_samples : int
        Number of samples, at least 1.
    """

    def __init__(self, n_samples: int) -> None:
        if n_samples < 1:
            raise ValueError("MaxSamples needs n_samples >= 1")
        self.n_samples = int(n_samples)

    def completion(self, state: RunState) -> float:
        return min(1.0, state.n_samples / self.n_samples)

    def __repr__(self) -> str:
        return f"MaxSamples({self.n_samples})"


class MaxEvaluations(StoppingRule):
    """Stop once ``n_evaluations`` distinct coalitions have been evaluated (≈ model fits),
    or every coalition of the game has been (a game of n players has only 2**n).

    A sampler that cannot reach new coalitions (e.g. truncated permutations that never
    leave the first few players) may still never reach the budget: combine with
    ``MaxSamples`` to bound such runs.

    Parameters
    ----------
    n_evaluations : int
        Budget of utility evaluations, at least 1.
    """

    def __init__(self, n_evaluations: int) -> None:
        if n_evaluations < 1:
            raise ValueError("MaxEvaluations needs n_evaluations >= 1")
        self.n_evaluations = int(n_evaluations)

    def completion(self, state: RunState) -> float:
        reachable = min(self.n_evaluations, 2 ** min(state.result.n_players, 62))
        return min(1.0, state.n_evaluations / reachable)

    def __repr__(self) -> str:
        return f"MaxEvaluations({self.n_evaluations})"


class StandardErrorBelow(StoppingRule):
    """Stop when every player has ``min_samples`` samples and a stderr ≤ ``threshold``.

    Completion estimates the share of the work done from ``stderr ∝ 1/sqrt(samples)``:
    ``min(samples / min_samples, (threshold / largest stderr)²)``.

    Parameters
    ----------
    threshold : float
        Largest acceptable standard error, in utility units (> 0).
    min_samples : int, default 30
        Samples every player needs before its stderr is trusted.
    """

    def __init__(self, threshold: float, min_samples: int = 30) -> None:
        if threshold <= 0 or min_samples < 2:
            raise ValueError("StandardErrorBelow needs threshold > 0 and min_samples >= 2")
        self.threshold = float(threshold)
        self.min_samples = int(min_samples)

    def done(self, state: RunState) -> bool:
        result = state.result
        return bool(
            result.counts.min() >= self.min_samples and result.stderr.max() <= self.threshold
        )

    def completion(self, state: RunState) -> float:
        if self.done(state):
            return 1.0
        result = state.result
        by_samples = result.counts.min() / self.min_samples
        worst = float(result.stderr.max())
        by_error = 0.0 if not np.isfinite(worst) else min(1.0, (self.threshold / worst) ** 2)
        # Not done, so report strictly below 1 even when float rounding says otherwise.
        return float(min(by_samples, by_error, np.nextafter(1.0, 0.0)))

    def __repr__(self) -> str:
        return f"StandardErrorBelow({self.threshold!r}, min_samples={self.min_samples})"


class RankStable(StoppingRule):
    """Stop when the ranking has not changed for ``patience`` consecutive samples.

    Parameters
    ----------
    patience : int, default 10
        Number of consecutive unchanged rankings required.
    top_k : int, optional
        Compare only the ``top_k`` best players (in order); default all players.
    """

    def __init__(self, patience: int = 10, top_k: int | None = None) -> None:
        if patience < 1 or (top_k is not None and top_k < 1):
            raise ValueError("RankStable needs patience >= 1 and top_k >= 1")
        self.patience = int(patience)
        self.top_k = top_k

    @property
    def history_length(self) -> int:
        return self.patience + 1

    def _streak(self, rankings: tuple[np.ndarray, ...]) -> int:
        head = [ranking[: self.top_k] for ranking in rankings]
        streak = 0
        for later, earlier in zip(reversed(head[1:]), reversed(head[:-1])):
            if not np.array_equal(later, earlier):
                break
            streak += 1
        return streak

    def completion(self, state: RunState) -> float:
        return min(1.0, self._streak(state.rankings) / self.patience)

    def __repr__(self) -> str:
        return f"RankStable(patience={self.patience}, top_k={self.top_k})"
