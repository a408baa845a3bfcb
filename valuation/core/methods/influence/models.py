"""The models behind influence and AMIP: weighted, L2-penalised M-estimators in closed form.

A model is seen as an M-estimator: ``θ̂(w)`` minimises ``Σ_n w_n ℓ_n(θ) + (α/2)‖β‖²`` (the
intercept is not penalised), so upweighting row ``n`` moves the parameters by
``dθ̂/dw_n = −H⁻¹ g_n`` with ``g_n = ∇ℓ_n(θ̂)`` and ``H`` the Hessian of the objective (Koh &
Liang 2017; the Z-estimator recipe of Broderick, Giordano & Meager). A :class:`Problem` gives
the fit, the per-row gradients, the Hessian, the validation metric and its gradients, and
(where defined) standard errors and their derivatives in the weights:

* ``"ols"`` and ``"ridge"`` (:class:`SquaredLoss`): ``ℓ_n = ½(y_n − z_nθ)²`` (ridge has the
  same minimiser as scikit-learn's ``Ridge(alpha)``; ols ignores ``alpha``); the validation
  metric is the squared error.
* ``"logistic"`` (:class:`Logistic`): multinomial logistic regression with the first class
  (in sorted order) as the reference (its logits fixed at 0), so binary labels give the
  usual log-odds model with the minimiser of scikit-learn's ``LogisticRegression(C=1/alpha)``;
  the validation metric is the log loss. Fitted by damped Newton steps to machine precision,
  so the closed forms match finite differences.

:func:`build_setup` builds the problem of a model on ``baseline ∪ train``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from scipy import linalg
from scipy.special import logsumexp

from valuation.core.dataset import Dataset

Model = Literal["ols", "ridge", "logistic"]

#: Condition number above which a Hessian is treated as singular (collinear features,
#: an intercept next to a constant column, too few rows).
MAX_CONDITION = 1e12


def solve(hessian: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``H⁻¹ rhs`` for a symmetric positive definite ``H``; ValueError if it is singular."""
    if not np.isfinite(hessian).all() or np.linalg.cond(hessian) > MAX_CONDITION:
        raise ValueError(
            "the model's Hessian is singular: collinear or constant features, too few rows, "
            "or an intercept next to a constant column (drop columns or use alpha > 0)"
        )
    return linalg.cho_solve(linalg.cho_factor(hessian), rhs)


class Problem(abc.ABC):
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
        return -solve(self.hessian(theta, w), gradients.T).T

    def stderr(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Standard errors of the parameters under weights ``w``."""
        raise ValueError(f"no standard errors for {type(self).__name__}")

    def stderr_influence(
        self, theta: np.ndarray, w: np.ndarray, influence: np.ndarray
    ) -> np.ndarray:
        """``dSE/dw_n`` for every row, given ``influence = dθ̂/dw``."""
        raise ValueError(f"no standard errors for {type(self).__name__}")


class SquaredLoss(Problem):
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
        return solve(self.hessian(np.zeros(self.n_params), w), self.Z.T @ (w * self.y))

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
        covariance = solve(self.hessian(theta, w), np.eye(self.n_params))
        return np.sqrt(sigma2 * np.diag(covariance))

    def stderr_influence(
        self, theta: np.ndarray, w: np.ndarray, influence: np.ndarray
    ) -> np.ndarray:
        se = self.stderr(theta, w)
        residuals = self.y - self.Z @ theta
        dof = self._dof()
        sigma2 = float(w @ residuals**2) / dof
        covariance = solve(self.hessian(theta, w), np.eye(self.n_params))
        leverage = self.Z @ covariance  # row n: (A z_n)ᵀ
        # d(σ̂² A_kk)/dw_n = A_kk e_n²/(N−P) − σ̂² (A z_n)_k²; the normal equations cancel
        # the residuals' own derivative.
        d_variance = (
            np.diag(covariance)[None, :] * (residuals**2)[:, None] / dof - sigma2 * leverage**2
        )
        return d_variance / (2.0 * se[None, :])


class Logistic(Problem):
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
            step = solve(self.hessian(theta, w), gradient)
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
        covariance = solve(self.hessian(theta, w), np.eye(self.n_params))
        return np.sqrt(np.diag(covariance))

    def stderr_influence(
        self, theta: np.ndarray, w: np.ndarray, influence: np.ndarray
    ) -> np.ndarray:
        self._binary()
        se = self.stderr(theta, w)
        covariance = solve(self.hessian(theta, w), np.eye(self.n_params))
        p = self._probabilities(self.Z, theta)[:, 1]
        curvature = p * (1 - p)
        projected = (self.Z @ covariance) ** 2  # (z_nᵀ H⁻¹ e_k)²
        # dH/dw_n = s_n z_n z_nᵀ + Σ_m w_m s_m (1 − 2p_m)(z_mᵀ dθ̂/dw_n) z_m z_mᵀ, and
        # d[H⁻¹]_kk = −e_kᵀH⁻¹ (dH) H⁻¹e_k.
        third = self.Z.T @ ((w * curvature * (1 - 2 * p))[:, None] * projected)
        d_variance = -(curvature[:, None] * projected + influence @ third)
        return d_variance / (2.0 * se[None, :])


@dataclass
class Setup:
    """A model problem on baseline ∪ train rows (baseline first), and the names of its
    parameters and classes."""

    problem: Problem
    n_baseline: int
    train: Dataset
    param_names: list[str]
    classes: np.ndarray | None
    fit_intercept: bool

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


def build_setup(
    model: str,
    alpha: float,
    fit_intercept: bool,
    train: Dataset,
    baseline: Dataset | None,
) -> Setup:
    """Build the problem of ``model`` on ``baseline ∪ train``."""
    if model not in ("ols", "ridge", "logistic"):
        raise ValueError(f"model must be 'ols', 'ridge' or 'logistic', not {model!r}")
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0, got {alpha!r}")
    if not isinstance(train, Dataset):
        raise ValueError(f"train must be a Dataset, not {type(train).__name__}")
    train.check_features(baseline=baseline)
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
        problem: Problem = Logistic(Z, codes.ravel(), alpha, fit_intercept)
        if classes.shape[0] > 2:
            names = [f"{name}[{label}]" for name in names for label in classes[1:]]
        return Setup(problem, n_baseline, train, names, classes, fit_intercept)
    penalty = alpha if model == "ridge" else 0.0
    problem = SquaredLoss(Z, _numeric_labels(y), penalty, fit_intercept, model == "ols")
    return Setup(problem, n_baseline, train, names, None, fit_intercept)
