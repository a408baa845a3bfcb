"""Closed-form influence of training rows on linear and logistic models, and AMIP.

Both estimators see a model as a weighted, L2-penalised M-estimator: ``θ̂(w)`` minimises
``Σ_n w_n ℓ_n(θ) + (α/2)‖β‖²`` (the intercept is not penalised), so upweighting row ``n``
moves the parameters by ``dθ̂/dw_n = −H⁻¹ g_n`` with ``g_n = ∇ℓ_n(θ̂)`` and ``H`` the Hessian
of the objective (Koh & Liang 2017; the Z-estimator recipe of Broderick, Giordano & Meager).
Dropping a set ``S`` of rows is ``w_S = 0``, whose first-order effect on any smooth quantity
``φ`` is ``−Σ_{n∈S} ψ_n`` with ``ψ_n = dφ/dw_n``.

Models:

* ``"ols"`` and ``"ridge"``: ``ℓ_n = ½(y_n − z_nθ)²`` (ridge has the same minimiser as
  scikit-learn's ``Ridge(alpha)``; ols ignores ``alpha``); the validation metric is the
  squared error.
* ``"logistic"``: multinomial logistic regression with the first class (in sorted order) as
  the reference (its logits fixed at 0), so binary labels give the usual log-odds model with
  the minimiser of scikit-learn's ``LogisticRegression(C=1/alpha)``; the validation metric is
  the log loss. Fitted by damped Newton steps to machine precision, so the closed forms match
  finite differences.

:class:`Influence` values each player by the first-order *increase* in validation loss when
its rows are removed (higher = more useful), averaged over validation rows; its units of work
are validation rows. :class:`AMIP` finds the smallest set of players whose removal flips the
sign or the significance of a coefficient (the signals of zaminfluence, with a normal
quantile ``z`` and ``σ̂² = Σ w e² / (N − P)`` keeping ``N`` fixed), or moves the validation
loss past a threshold, and confirms every prediction by refitting without those players.
Grouped players act through the sum of their rows' scores, which is exact to first order.
"""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal, Self

import numpy as np
from scipy import linalg, sparse
from scipy.special import logsumexp
from scipy.stats import norm
from sklearn.base import BaseEstimator

from valuation.core.dataset import Dataset
from valuation.core.progress import ProgressReporter
from valuation.core.result import ValuationResult

Model = Literal["ols", "ridge", "logistic"]
Signal = Literal["sign", "significance", "both"]

#: Condition number above which a Hessian is treated as singular (collinear features,
#: an intercept next to a constant column, too few rows).
MAX_CONDITION = 1e12


def _solve(hessian: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``H⁻¹ rhs`` for a symmetric positive definite ``H``; ValueError if it is singular."""
    if not np.isfinite(hessian).all() or np.linalg.cond(hessian) > MAX_CONDITION:
        raise ValueError(
            "the model's Hessian is singular: collinear or constant features, too few rows, "
            "or an intercept next to a constant column (drop columns or use alpha > 0)"
        )
    return linalg.cho_solve(linalg.cho_factor(hessian), rhs)


class _Problem(abc.ABC):
    """One model family on a fixed design matrix ``Z`` (intercept column last, if any)."""

    metric_name: ClassVar[str]

    def __init__(self, Z: np.ndarray, y: np.ndarray, alpha: float, fit_intercept: bool) -> None:
        self.Z = Z
        self.y = y
        self.alpha = float(alpha)
        self.penalised = np.ones(Z.shape[1])
        if fit_intercept:
            self.penalised[-1] = 0.0

    @property
    @abc.abstractmethod
    def n_params(self) -> int:
        """Length of the flat parameter vector."""

    @abc.abstractmethod
    def fit(self, w: np.ndarray) -> np.ndarray:
        """The minimiser ``θ̂(w)`` (flat)."""

    @abc.abstractmethod
    def hessian(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Hessian of the weighted, penalised objective at ``theta``."""

    @abc.abstractmethod
    def row_gradients(self, Z: np.ndarray, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """``∇ℓ_n(θ)`` of the training loss, one row per data row."""

    @abc.abstractmethod
    def metric(self, Z: np.ndarray, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """The validation loss of every row."""

    @abc.abstractmethod
    def metric_gradients(self, Z: np.ndarray, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Gradient of :meth:`metric` of every row."""

    def param_influence(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        """``dθ̂/dw_n`` for every row of ``Z``: shape (n_rows, n_params)."""
        gradients = self.row_gradients(self.Z, self.y, theta)
        return -_solve(self.hessian(theta, w), gradients.T).T

    def stderr(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Standard errors of the parameters under weights ``w``."""
        raise ValueError(f"no standard errors for {type(self).__name__}")

    def stderr_influence(
        self, theta: np.ndarray, w: np.ndarray, influence: np.ndarray
    ) -> np.ndarray:
        """``dSE/dw_n`` for every row, given ``influence = dθ̂/dw``."""
        raise ValueError(f"no standard errors for {type(self).__name__}")


class _SquaredLoss(_Problem):
    """OLS and ridge: ``ℓ_n = ½(y_n − z_nθ)²``; validation metric the squared error."""

    metric_name = "squared_error"

    def __init__(
        self, Z: np.ndarray, y: np.ndarray, alpha: float, fit_intercept: bool, has_se: bool
    ) -> None:
        super().__init__(Z, y, alpha, fit_intercept)
        self.has_se = has_se

    @property
    def n_params(self) -> int:
        return int(self.Z.shape[1])

    def fit(self, w: np.ndarray) -> np.ndarray:
        return _solve(self.hessian(np.zeros(self.n_params), w), self.Z.T @ (w * self.y))

    def hessian(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        return (self.Z.T * w) @ self.Z + np.diag(self.alpha * self.penalised)

    def row_gradients(self, Z: np.ndarray, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
        return -(y - Z @ theta)[:, None] * Z

    def metric(self, Z: np.ndarray, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
        return (y - Z @ theta) ** 2

    def metric_gradients(self, Z: np.ndarray, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
        return -2.0 * (y - Z @ theta)[:, None] * Z

    def _dof(self) -> int:
        dof = self.Z.shape[0] - self.n_params
        if dof < 1:
            raise ValueError(f"{self.Z.shape[0]} rows leave no residual degrees of freedom")
        return dof

    def stderr(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        if not self.has_se:
            raise ValueError("standard errors are defined for ols, not for ridge")
        residuals = self.y - self.Z @ theta
        # N stays the number of rows whatever the weights (zaminfluence's convention), so
        # dropping rows by zero weights is what the influence scores differentiate.
        sigma2 = float(w @ residuals**2) / self._dof()
        covariance = _solve(self.hessian(theta, w), np.eye(self.n_params))
        return np.sqrt(sigma2 * np.diag(covariance))

    def stderr_influence(
        self, theta: np.ndarray, w: np.ndarray, influence: np.ndarray
    ) -> np.ndarray:
        se = self.stderr(theta, w)
        residuals = self.y - self.Z @ theta
        dof = self._dof()
        sigma2 = float(w @ residuals**2) / dof
        covariance = _solve(self.hessian(theta, w), np.eye(self.n_params))
        leverage = self.Z @ covariance  # row n: (A z_n)ᵀ
        # d(σ̂² A_kk)/dw_n = A_kk e_n²/(N−P) − σ̂² (A z_n)_k²; the normal equations cancel
        # the residuals' own derivative.
        d_variance = (
            np.diag(covariance)[None, :] * (residuals**2)[:, None] / dof - sigma2 * leverage**2
        )
        return d_variance / (2.0 * se[None, :])


class _Logistic(_Problem):
    """Multinomial logistic regression, first class as reference; metric the log loss."""

    metric_name = "log_loss"
    max_newton_steps = 100

    def __init__(self, Z: np.ndarray, y: np.ndarray, alpha: float, fit_intercept: bool) -> None:
        super().__init__(Z, y, alpha, fit_intercept)
        self.n_free = int(y.max())  # y holds class codes 0..K-1; class 0 is the reference

    @property
    def n_params(self) -> int:
        return int(self.Z.shape[1] * self.n_free)

    def _logits(self, Z: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Logits of all K classes, the reference class's fixed at 0."""
        logits = np.zeros((Z.shape[0], self.n_free + 1))
        logits[:, 1:] = Z @ theta.reshape(Z.shape[1], self.n_free)
        return logits

    def _probabilities(self, Z: np.ndarray, theta: np.ndarray) -> np.ndarray:
        logits = self._logits(Z, theta)
        return np.exp(logits - logsumexp(logits, axis=1, keepdims=True))

    def metric(self, Z: np.ndarray, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
        logits = self._logits(Z, theta)
        return logsumexp(logits, axis=1) - logits[np.arange(Z.shape[0]), y]

    def _objective(self, theta: np.ndarray, w: np.ndarray) -> float:
        penalty = theta.reshape(self.Z.shape[1], self.n_free) ** 2 * self.penalised[:, None]
        return float(w @ self.metric(self.Z, self.y, theta)) + 0.5 * self.alpha * penalty.sum()

    def _residuals(self, Z: np.ndarray, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """``p − onehot(y)`` over the free classes 1..K-1."""
        residuals = self._probabilities(Z, theta)[:, 1:]
        free = y > 0
        residuals[np.flatnonzero(free), y[free] - 1] -= 1.0
        return residuals

    def row_gradients(self, Z: np.ndarray, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
        residuals = self._residuals(Z, y, theta)
        return (Z[:, :, None] * residuals[:, None, :]).reshape(Z.shape[0], -1)

    metric_gradients = row_gradients

    def hessian(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        n_features, k = self.Z.shape[1], self.n_free
        q = self._probabilities(self.Z, theta)[:, 1:]
        blocks = np.empty((n_features, k, n_features, k))
        for a in range(k):
            for b in range(a, k):
                curvature = w * (q[:, a] * (a == b) - q[:, a] * q[:, b])
                block = (self.Z.T * curvature) @ self.Z
                blocks[:, a, :, b] = block
                blocks[:, b, :, a] = block
        hessian = blocks.reshape(n_features * k, n_features * k)
        return hessian + np.diag(np.repeat(self.alpha * self.penalised, k))

    def fit(self, w: np.ndarray) -> np.ndarray:
        theta = np.zeros(self.n_params)
        objective = self._objective(theta, w)
        penalty = np.repeat(self.alpha * self.penalised, self.n_free)
        for _ in range(self.max_newton_steps):
            gradient = self.row_gradients(self.Z, self.y, theta).T @ w + penalty * theta
            step = _solve(self.hessian(theta, w), gradient)
            decrease = float(gradient @ step)
            # Backtracking keeps Newton monotone far from the optimum; near it the full step
            # is taken and convergence is quadratic.
            size = 1.0
            while True:
                candidate = theta - size * step
                value = self._objective(candidate, w)
                if value <= objective - 1e-4 * size * decrease or size < 1e-10:
                    break
                size /= 2
            theta, objective = candidate, value
            if np.max(np.abs(size * step)) <= 1e-12 * (1.0 + np.max(np.abs(theta))):
                return theta
        raise ValueError("the logistic fit did not converge (separable classes?); use alpha > 0")

    def _binary(self) -> None:
        if self.n_free != 1:
            raise ValueError("standard errors are defined for binary logistic regression only")

    def stderr(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        self._binary()
        covariance = _solve(self.hessian(theta, w), np.eye(self.n_params))
        return np.sqrt(np.diag(covariance))

    def stderr_influence(
        self, theta: np.ndarray, w: np.ndarray, influence: np.ndarray
    ) -> np.ndarray:
        self._binary()
        se = self.stderr(theta, w)
        covariance = _solve(self.hessian(theta, w), np.eye(self.n_params))
        p = self._probabilities(self.Z, theta)[:, 1]
        curvature = p * (1 - p)
        projected = (self.Z @ covariance) ** 2  # (z_nᵀ H⁻¹ e_k)²
        # dH/dw_n = s_n z_n z_nᵀ + Σ_m w_m s_m (1 − 2p_m)(z_mᵀ dθ̂/dw_n) z_m z_mᵀ, and
        # d[H⁻¹]_kk = −e_kᵀH⁻¹ (dH) H⁻¹e_k.
        third = self.Z.T @ ((w * curvature * (1 - 2 * p))[:, None] * projected)
        d_variance = -(curvature[:, None] * projected + influence @ third)
        return d_variance / (2.0 * se[None, :])


@dataclass
class _Setup:
    """A model problem on baseline ∪ train rows and how rows map to players."""

    problem: _Problem
    n_baseline: int
    train: Dataset
    param_names: list[str]
    classes: np.ndarray | None
    fit_intercept: bool

    def player_sum(self, per_row: np.ndarray) -> np.ndarray:
        """Sum the rows of ``per_row`` (train rows only, in order) over each player."""
        n_rows = self.train.n_rows
        membership = sparse.csr_matrix(
            (np.ones(n_rows), (self.train.player_of_row, np.arange(n_rows))),
            shape=(self.train.n_players, n_rows),
        )
        return np.asarray(membership @ per_row)

    def weights_without(self, players: np.ndarray) -> np.ndarray:
        """Weights of all fit rows with the rows of ``players`` set to 0."""
        w = np.ones(self.problem.Z.shape[0])
        w[self.n_baseline + self.train.indices_of(players)] = 0.0
        return w

    def design(self, X: np.ndarray) -> np.ndarray:
        """Design matrix of new rows (the intercept column appended like the fit's)."""
        if self.fit_intercept:
            return np.column_stack([X, np.ones(X.shape[0])])
        return X

    def encode(self, y: np.ndarray) -> np.ndarray:
        """Labels as the problem reads them (class codes for logistic, floats otherwise)."""
        if self.classes is None:
            return _numeric_labels(y)
        codes = np.searchsorted(self.classes, y)
        unknown = (codes >= self.classes.shape[0]) | (
            self.classes[np.minimum(codes, self.classes.shape[0] - 1)] != y
        )
        if unknown.any():
            raise ValueError(f"label {y[np.argmax(unknown)]!r} does not occur in the training data")
        return codes


def _numeric_labels(y: np.ndarray) -> np.ndarray:
    try:
        return y.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError("ols and ridge need numeric labels") from None


def _setup(
    model: str,
    alpha: float,
    fit_intercept: bool,
    train: Dataset,
    baseline: Dataset | None,
) -> _Setup:
    """Build the problem of ``model`` on ``baseline ∪ train``."""
    if model not in ("ols", "ridge", "logistic"):
        raise ValueError(f"model must be 'ols', 'ridge' or 'logistic', not {model!r}")
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0, got {alpha!r}")
    if not isinstance(train, Dataset):
        raise ValueError(f"train must be a Dataset, not {type(train).__name__}")
    if baseline is not None and baseline.n_features != train.n_features:
        raise ValueError(
            f"baseline has {baseline.n_features} feature columns but train has {train.n_features}"
        )
    X = train.X if baseline is None else np.concatenate([baseline.X, train.X])
    y = train.y if baseline is None else np.concatenate([baseline.y, train.y])
    Z = np.column_stack([X, np.ones(X.shape[0])]) if fit_intercept else X
    names = (
        [str(n) for n in train.feature_names]
        if train.feature_names is not None
        else [f"x{j}" for j in range(train.n_features)]
    ) + (["intercept"] if fit_intercept else [])
    n_baseline = 0 if baseline is None else baseline.n_rows
    if model == "logistic":
        classes, codes = np.unique(y, return_inverse=True)
        if classes.shape[0] < 2:
            raise ValueError("logistic regression needs at least two classes")
        problem: _Problem = _Logistic(Z, codes.ravel(), alpha, fit_intercept)
        if classes.shape[0] > 2:
            names = [f"{name}[{label}]" for name in names for label in classes[1:]]
        return _Setup(problem, n_baseline, train, names, classes, fit_intercept)
    penalty = alpha if model == "ridge" else 0.0
    problem = _SquaredLoss(Z, _numeric_labels(y), penalty, fit_intercept, model == "ols")
    return _Setup(problem, n_baseline, train, names, None, fit_intercept)


class Influence(BaseEstimator):
    """First-order value of each player for a linear or logistic model's validation loss.

    ``value_i = mean over validation rows v of (ℓ_v(θ̂ without i) − ℓ_v(θ̂))`` to first
    order, ``= mean_v ∇ℓ_v(θ̂)ᵀ H⁻¹ Σ_{n∈i} g_n``: positive when removing the player's rows
    would raise the validation loss (a useful player), negative for harmful ones such as
    mislabeled rows.

    Parameters
    ----------
    model : {"logistic", "ridge", "ols"}, default "logistic"
        The model family (see the module docstring for the exact objectives).
    alpha : float, default 1.0
        L2 penalty for "ridge" and "logistic" (the minimisers of scikit-learn's
        ``Ridge(alpha)`` and, for two classes, ``LogisticRegression(C=1/alpha)``); ignored
        by "ols".
    fit_intercept : bool, default True
        Add an unpenalised intercept.
    batch_size : int, default 1024
        Validation rows per block: memory is ``O(n_rows × batch_size)``.
    progress : callable, optional
        ``progress(done_fraction, info)``, called after every block.

    Attributes
    ----------
    result_ : ValuationResult
        ``values`` as above; ``counts`` = validation rows and ``stderr`` the standard error
        of the mean over them (how much the value depends on the validation sample).
    coef_ : numpy.ndarray
        The fitted parameters, flat, named by ``param_names_``.
    param_names_ : list of str
        Feature names (``x0``, … by default), then ``intercept``; multinomial models name
        ``feature[class]`` for every class but the first (the reference).
    classes_ : numpy.ndarray or None
        Sorted class labels (logistic only).
    coef_influence_ : numpy.ndarray of shape (n_players, n_params)
        ``dθ̂/dw`` for each player (its rows' weights moved together); dropping it changes
        the parameters by ``−coef_influence_[i]`` to first order.
    n_utility_evaluations_ : int
        Model fits: 1 (per chunk).
    """

    method_name: ClassVar[str] = "influence"

    def __init__(
        self,
        *,
        model: Model = "logistic",
        alpha: float = 1.0,
        fit_intercept: bool = True,
        batch_size: int = 1024,
        progress=None,
    ) -> None:
        self.model = model
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.batch_size = batch_size
        self.progress = progress

    def n_units(self, train: Dataset, valid: Dataset | None = None) -> int:
        """Units of work: one per validation row (``valid`` is required)."""
        if valid is None:
            raise ValueError("Influence works per validation row: pass valid")
        return valid.n_rows

    def fit(self, train: Dataset, valid: Dataset | None = None, *, baseline=None) -> Self:
        """Fit the model on ``baseline ∪ train`` and value every player; returns self."""
        self.result_ = self.fit_chunk(
            train, valid, baseline=baseline, start=0, stop=self.n_units(train, valid)
        )
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
        """Value every player on validation rows ``[start, stop)``.

        Chunks merge with ``+`` into the values over all their rows. Sets the fitted
        attributes and ``n_utility_evaluations_ = 1``.
        """
        total = self.n_units(train, valid)
        if not 0 <= start <= stop <= total:
            raise ValueError(f"chunk [{start}, {stop}) is outside [0, {total})")
        if valid.n_features != train.n_features:
            raise ValueError(
                f"valid has {valid.n_features} feature columns but train has {train.n_features}"
            )
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        setup = _setup(self.model, self.alpha, self.fit_intercept, train, baseline)
        problem = setup.problem
        w = np.ones(problem.Z.shape[0])
        theta = problem.fit(w)
        hessian = problem.hessian(theta, w)
        train_gradients = problem.row_gradients(problem.Z, problem.y, theta)[setup.n_baseline :]
        self.coef_ = theta
        self.param_names_ = setup.param_names
        self.classes_ = setup.classes
        self.coef_influence_ = setup.player_sum(-_solve(hessian, train_gradients.T).T)
        self.n_utility_evaluations_ = 1
        Zv, yv = setup.design(valid.X), setup.encode(valid.y)
        report = ProgressReporter(self.progress)
        result = ValuationResult.empty(train.player_names, self.method_name)
        for first in range(start, stop, self.batch_size):
            last = min(first + self.batch_size, stop)
            valid_gradients = problem.metric_gradients(Zv[first:last], yv[first:last], theta)
            per_row = train_gradients @ _solve(hessian, valid_gradients.T)
            samples = setup.player_sum(per_row).T  # one sample per validation row
            result = result + ValuationResult.from_samples(
                samples, train.player_names, method=self.method_name
            )
            report(
                (last - start) / (stop - start),
                method=self.method_name,
                n_units_done=last - start,
                n_units=stop - start,
                n_evaluations=1,
            )
        if start == stop:
            report(1.0, method=self.method_name, n_units_done=0, n_units=0, n_evaluations=1)
        return result

    def reduce(self, partial: ValuationResult) -> ValuationResult:
        """The merged partial is the result; checks it is this method's."""
        if not isinstance(partial, ValuationResult) or partial.method != self.method_name:
            raise ValueError(f"Influence reduces an {self.method_name!r} result")
        return partial


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

    problem: _Problem
    j: int
    factor: float

    def __call__(self, theta: np.ndarray, w: np.ndarray) -> float:
        if self.factor == 0.0:
            return float(theta[self.j])
        return float(theta[self.j] + self.factor * self.problem.stderr(theta, w)[self.j])


@dataclass(frozen=True)
class _ValidationLoss:
    """Remeasure the mean validation loss minus the threshold after a refit."""

    problem: _Problem
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
        setup = _setup(self.model, self.alpha, self.fit_intercept, train, baseline)
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
            scores = setup.player_sum(task.row_scores[setup.n_baseline :])
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
        self.coef_influence_ = setup.player_sum(influence[setup.n_baseline :])
        self.stderr_influence_ = (
            None if se_influence is None else setup.player_sum(se_influence[setup.n_baseline :])
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
        setup: _Setup,
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
        setup: _Setup, players: np.ndarray, measure: _Coefficient | _ValidationLoss
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
