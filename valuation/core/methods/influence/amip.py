"""AMIP: the fewest players whose removal flips a conclusion, confirmed by refitting.

The Approximate Maximum Influence Perturbation (Broderick, Giordano & Meager; the signals of
zaminfluence): dropping a set ``S`` of players moves any smooth quantity ``φ`` of the fit by
``−Σ_{n∈S} ψ_n`` to first order, ``ψ_n = dφ/dw_n`` (:mod:`.models`). :class:`AMIP` finds the
smallest set whose removal flips the sign or the significance of a coefficient (with a
normal quantile ``z`` and ``σ̂² = Σ w e² / (N − P)`` keeping ``N`` fixed), or moves the
validation loss past a threshold, and confirms every prediction by refitting without those
players. Grouped players act through the sum of their rows' scores, which is exact to first
order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Self

import numpy as np
from scipy.stats import norm
from sklearn.base import BaseEstimator

from valuation.core.dataset import Dataset
from valuation.core.methods.influence.models import Model, Problem, Setup, build_setup
from valuation.core.progress import ProgressReporter

Signal = Literal["sign", "significance", "both"]


@dataclass(frozen=True)
class AMIPSignal:
    """The smallest removal that pushes one quantity through 0, and its refit.

    Attributes
    ----------
    target : str
        A parameter name, or ``"validation_loss"``.
    signal : str
        ``"sign"``, ``"significance"``, ``"both"`` or ``"threshold"``.
    quantity : str
        What is pushed through 0: ``"beta"``, ``"beta - z*se"``, ``"beta + z*se"`` or
        ``"<metric> - <threshold>"``.
    original : float
        The quantity on all rows.
    k : int or None
        Players to drop; None when even dropping every same-signed player is predicted not
        to reach 0 (zaminfluence's NA).
    apip : float or None
        ``k / n_players``.
    players : tuple of int
        The dropped players (largest scores first); empty when ``k`` is None.
    names : tuple of str
        Their names.
    predicted : float or None
        The first-order prediction of the quantity after dropping them.
    refit : float or None
        The quantity recomputed by refitting without them (None if ``k`` is None or the
        refit is singular).
    confirmed : bool or None
        Whether the refit quantity has crossed 0 (is 0 or of the opposite sign).
    """

    target: str
    signal: str
    quantity: str
    original: float
    k: int | None
    apip: float | None
    players: tuple[int, ...]
    names: tuple[str, ...]
    predicted: float | None
    refit: float | None
    confirmed: bool | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        data = asdict(self)
        data["players"] = list(self.players)
        data["names"] = list(self.names)
        return data


@dataclass(frozen=True)
class AMIPResult:
    """AMIP signals of one fit.

    Attributes
    ----------
    n_players : int
        Players the APIPs are fractions of.
    z : float
        The normal quantile of the confidence intervals.
    estimates : dict of str to float
        The fitted parameters by name.
    stderrs : dict of str to float
        Their standard errors (empty when the model has none).
    signals : tuple of AMIPSignal
    """

    n_players: int
    z: float
    estimates: dict[str, float]
    stderrs: dict[str, float]
    signals: tuple[AMIPSignal, ...] = field(default=())

    def get(self, target: str, signal: str) -> AMIPSignal:
        """The signal for ``target`` and ``signal``; KeyError if it was not computed."""
        for item in self.signals:
            if item.target == target and item.signal == signal:
                return item
        raise KeyError((target, signal))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AMIPResult:
        """Rebuild a result from :meth:`to_dict` output."""
        if data.get("type") != "AMIPResult":
            raise ValueError("not an AMIPResult dict")
        signals = tuple(
            AMIPSignal(
                **{
                    **item,
                    "players": tuple(item["players"]),
                    "names": tuple(item["names"]),
                }
            )
            for item in data["signals"]
        )
        return cls(
            n_players=data["n_players"],
            z=data["z"],
            estimates=dict(data["estimates"]),
            stderrs=dict(data["stderrs"]),
            signals=signals,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict that :meth:`from_dict` restores."""
        return {
            "type": "AMIPResult",
            "n_players": self.n_players,
            "z": self.z,
            "estimates": dict(self.estimates),
            "stderrs": dict(self.stderrs),
            "signals": [item.to_dict() for item in self.signals],
        }


def approximate_perturbation(scores: np.ndarray, original: float) -> np.ndarray | None:
    """The fewest players whose removal is predicted to push ``original`` through 0.

    Removing a set ``S`` changes the quantity by ``−Σ_S scores`` to first order, so a
    positive quantity needs the largest positive scores and a negative one the most
    negative. Players are taken in that order (ties: lower index first; zero scores never),
    until the cumulative change reaches ``original``.

    Returns
    -------
    numpy.ndarray of int or None
        The players in order of removal (empty when ``original`` is 0), or None when all
        same-signed scores together fall short.
    """
    if original == 0:
        return np.empty(0, dtype=np.int64)
    direction = 1.0 if original > 0 else -1.0
    signed = direction * scores
    candidates = np.flatnonzero(signed > 0)
    order = candidates[np.argsort(-signed[candidates], kind="stable")]
    reached = np.flatnonzero(np.cumsum(signed[order]) >= abs(original))
    if reached.size == 0:
        return None
    return order[: reached[0] + 1]


@dataclass(frozen=True)
class _Coefficient:
    """Remeasure ``β_j + factor·SE_j`` after a refit."""

    problem: Problem
    j: int
    factor: float

    def __call__(self, theta: np.ndarray, w: np.ndarray) -> float:
        if self.factor == 0.0:
            return float(theta[self.j])
        return float(theta[self.j] + self.factor * self.problem.stderr(theta, w)[self.j])


@dataclass(frozen=True)
class _ValidationLoss:
    """Remeasure the mean validation loss minus the threshold after a refit."""

    problem: Problem
    Z: np.ndarray
    y: np.ndarray
    threshold: float

    def __call__(self, theta: np.ndarray, w: np.ndarray) -> float:
        return float(self.problem.metric(self.Z, self.y, theta).mean()) - float(self.threshold)


@dataclass(frozen=True)
class _Task:
    """One quantity to push through 0: its value, per-row scores and how to remeasure it."""

    target: str
    signal: str
    quantity: str
    original: float
    row_scores: np.ndarray
    measure: _Coefficient | _ValidationLoss


class AMIP(BaseEstimator):
    """Approximate Maximum Influence Perturbation, confirmed by refitting.

    For each chosen coefficient ``β`` (with ``s = sign(β)``, 0 counted as positive) and
    signal, the quantity pushed through 0 is: ``sign`` → ``β``; ``significance`` →
    ``β − s·z·SE`` (the interval end nearest 0: removes significance if there is some,
    creates it otherwise); ``both`` → ``β + s·z·SE`` (a significant result of the opposite
    sign). With ``metric_threshold`` the validation loss is pushed past the threshold
    (quantity ``loss − threshold``). Each signal's players are then dropped and the model
    refitted.

    Parameters
    ----------
    model : {"ols", "ridge", "logistic"}, default "ols"
        Standard errors exist for ols and binary logistic; ridge and multinomial models
        support ``sign`` and the threshold only.
    alpha : float, default 0.0
        L2 penalty for ridge and logistic (0: plain maximum likelihood).
    fit_intercept : bool, default True
    coefficients : sequence of str or int, optional
        Parameters to examine, by name or index; default every parameter but the intercept.
    signals : sequence of {"sign", "significance", "both"}, default all three
    significance_level : float, default 0.05
        Two-sided level: ``z = Φ⁻¹(1 − level/2)`` (1.96), a normal quantile as in
        zaminfluence, not Student's t.
    metric_threshold : float, optional
        Also find the fewest players whose removal moves the validation loss (squared error
        or log loss, mean over ``valid``) past this value; needs ``valid``.
    progress : callable, optional
        ``progress(done_fraction, info)``, called after every refit.

    Attributes
    ----------
    result_ : AMIPResult
    coef_, stderr_ : numpy.ndarray
        Fitted parameters and their standard errors (NaN when undefined).
    param_names_ : list of str
    coef_influence_ : numpy.ndarray of shape (n_players, n_params)
        ``ψ^β``: ``dθ̂/dw`` of each player; dropping it moves ``θ̂`` by ``−ψ^β``.
    stderr_influence_ : numpy.ndarray of shape (n_players, n_params) or None
        ``ψ^SE``, when a signal needed standard errors.
    n_utility_evaluations_ : int
        Model fits: 1 plus one refit per signal that found a set.
    """

    def __init__(
        self,
        *,
        model: Model = "ols",
        alpha: float = 0.0,
        fit_intercept: bool = True,
        coefficients=None,
        signals: tuple[Signal, ...] = ("sign", "significance", "both"),
        significance_level: float = 0.05,
        metric_threshold: float | None = None,
        progress=None,
    ) -> None:
        self.model = model
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.coefficients = coefficients
        self.signals = signals
        self.significance_level = significance_level
        self.metric_threshold = metric_threshold
        self.progress = progress

    def fit(self, train: Dataset, valid: Dataset | None = None, *, baseline=None) -> Self:
        """Find and refit every signal; the answer is ``result_``. Returns self."""
        unknown = set(self.signals) - {"sign", "significance", "both"}
        if unknown:
            raise ValueError(f"unknown signals {sorted(unknown)}")
        if not 0 < self.significance_level < 1:
            raise ValueError("significance_level must lie in (0, 1)")
        if self.metric_threshold is not None and valid is None:
            raise ValueError("metric_threshold needs valid data")
        setup = build_setup(self.model, self.alpha, self.fit_intercept, train, baseline)
        problem = setup.problem
        w = np.ones(problem.Z.shape[0])
        theta = problem.fit(w)
        influence = problem.param_influence(theta, w)
        z = float(norm.ppf(1 - self.significance_level / 2))
        needs_se = bool(set(self.signals) & {"significance", "both"})
        se = problem.stderr(theta, w) if needs_se else np.full(theta.shape, np.nan)
        se_influence = problem.stderr_influence(theta, w, influence) if needs_se else None
        tasks = self._tasks(setup, theta, se, z, influence, se_influence, valid)
        report = ProgressReporter(self.progress)
        signals = []
        n_fits = 1
        for number, task in enumerate(tasks, start=1):
            scores = train.player_sums(task.row_scores[setup.n_baseline :])
            chosen = approximate_perturbation(scores, task.original)
            refit = None
            if chosen is not None:
                n_fits += 1
                refit = self._refit(setup, chosen, task.measure)
            signals.append(_signal(task, chosen, scores, refit, train))
            report(
                number / len(tasks),
                method="amip",
                n_units_done=number,
                n_units=len(tasks),
                n_evaluations=n_fits,
            )
        if not tasks:
            report(1.0, method="amip", n_units_done=0, n_units=0, n_evaluations=1)
        self.coef_ = theta
        self.stderr_ = se
        self.param_names_ = setup.param_names
        self.coef_influence_ = train.player_sums(influence[setup.n_baseline :].T).T
        self.stderr_influence_ = (
            None
            if se_influence is None
            else train.player_sums(se_influence[setup.n_baseline :].T).T
        )
        self.n_utility_evaluations_ = n_fits
        self.result_ = AMIPResult(
            n_players=train.n_players,
            z=z,
            estimates=dict(zip(setup.param_names, map(float, theta))),
            stderrs=dict(zip(setup.param_names, map(float, se))) if needs_se else {},
            signals=tuple(signals),
        )
        return self

    def _targets(self, names: list[str]) -> list[int]:
        if self.coefficients is None:
            return [j for j, name in enumerate(names) if name != "intercept"]
        chosen = []
        for item in self.coefficients:
            if isinstance(item, str):
                if item not in names:
                    raise ValueError(f"unknown coefficient {item!r}; known: {names}")
                chosen.append(names.index(item))
            elif not 0 <= int(item) < len(names):
                raise ValueError(f"coefficient index {item} is outside [0, {len(names)})")
            else:
                chosen.append(int(item))
        return chosen

    def _tasks(
        self,
        setup: Setup,
        theta: np.ndarray,
        se: np.ndarray,
        z: float,
        influence: np.ndarray,
        se_influence: np.ndarray | None,
        valid: Dataset | None,
    ) -> list[_Task]:
        """One task per (coefficient, signal), then the threshold task if asked."""
        problem = setup.problem
        tasks = []
        for j in self._targets(setup.param_names):
            side = 1.0 if theta[j] >= 0 else -1.0
            for signal in self.signals:
                if signal == "sign":
                    tasks.append(
                        _Task(
                            setup.param_names[j],
                            signal,
                            "beta",
                            float(theta[j]),
                            influence[:, j],
                            _Coefficient(problem, j, 0.0),
                        )
                    )
                    continue
                # significance moves the interval end nearest 0, both the far end.
                factor = -side * z if signal == "significance" else side * z
                quantity = "beta - z*se" if factor < 0 else "beta + z*se"
                tasks.append(
                    _Task(
                        setup.param_names[j],
                        signal,
                        quantity,
                        float(theta[j] + factor * se[j]),
                        influence[:, j] + factor * se_influence[:, j],
                        _Coefficient(problem, j, factor),
                    )
                )
        if self.metric_threshold is not None:
            measure = _ValidationLoss(
                problem, setup.design(valid.X), setup.encode(valid.y), self.metric_threshold
            )
            gradient = problem.metric_gradients(measure.Z, measure.y, theta).mean(axis=0)
            tasks.append(
                _Task(
                    "validation_loss",
                    "threshold",
                    f"{problem.metric_name} - {measure.threshold:g}",
                    measure(theta, np.ones(problem.Z.shape[0])),
                    influence @ gradient,
                    measure,
                )
            )
        return tasks

    @staticmethod
    def _refit(
        setup: Setup, players: np.ndarray, measure: _Coefficient | _ValidationLoss
    ) -> float | None:
        w = setup.weights_without(players)
        try:
            theta = setup.problem.fit(w)
            return measure(theta, w)
        except ValueError:
            # Dropping the players left a singular problem: the prediction stays unconfirmed.
            return None


def _signal(
    task: _Task,
    chosen: np.ndarray | None,
    scores: np.ndarray,
    refit: float | None,
    train: Dataset,
) -> AMIPSignal:
    """The report of one task."""
    if chosen is None:
        return AMIPSignal(
            task.target,
            task.signal,
            task.quantity,
            task.original,
            None,
            None,
            (),
            (),
            None,
            None,
            None,
        )
    players = tuple(int(p) for p in chosen)
    return AMIPSignal(
        target=task.target,
        signal=task.signal,
        quantity=task.quantity,
        original=task.original,
        k=len(players),
        apip=len(players) / train.n_players,
        players=players,
        names=tuple(str(train.player_names[p]) for p in players),
        predicted=float(task.original - scores[chosen].sum()),
        refit=refit,
        confirmed=None if refit is None else bool(refit * task.original <= 0),
    )
