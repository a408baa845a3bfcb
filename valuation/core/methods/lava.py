"""LAVA: learning-agnostic data values from optimal transport to the validation set.

Just et al. (ICLR 2023), as described in algorithms.md §3, with our choices stated here:

1. Features ``φ(x)``: standardised with the training rows' statistics by default, or any
   scikit-learn transformer (e.g. ``make_pipeline(StandardScaler(), PCA(32))`` over supplied
   embeddings), or used as given.
2. Label distance ``W(c, c′)``: the exact squared-Euclidean Wasserstein cost (``W₂²``,
   ``ot.emd2``) between the training rows of class ``c`` and the validation rows of class
   ``c′``, each a uniform cloud (at most ``max_class_samples`` points, drawn at random).
3. Ground cost between a training row ``(x, y)`` and a validation row ``(x′, y′)``:
   ``C = (λ_x ‖φ(x) − φ(x′)‖² + λ_y W(y, y′)) / d`` — no halving by default (LAVA's own code
   halves both terms: ``λ_x = 1/2, λ_y = 1/4`` reproduces it). Dividing by the dimension
   ``d`` of ``φ`` (``normalize_cost``, on by default) makes both terms per-dimension means,
   so one ``ε`` suits 2 or 2,000 features: on the raw cost of 30 standardised features,
   ε = 0.1 needs ~10⁵ Sinkhorn iterations for the same ranking that ``C/d`` gets in ~10³.
4. Entropic OT between the uniform measures over training and validation rows by
   log-stabilised Sinkhorn (POT's ``ot.bregman.sinkhorn_stabilized``, potentials kept in the
   log domain so ``exp(−C/ε)`` never underflows) with ε-scaling; it yields the training
   potential ``f`` — unique up to an additive constant, unlike exact-OT duals.
5. The calibrated gradient ``CG_i = f_i − Σ_{j≠i} f_j/(N − 1)``: the directional derivative of
   the OT cost when mass moves onto row ``i`` evenly from all the others. It sums to 0 and
   ignores the constant in ``f``. High CG = the row pulls the training set away from the
   validation set (e.g. a flipped label).

``result_.values`` is ``−CG`` so that, as for Shapley values, higher means more useful;
a group's value is the sum of its rows' values. Baseline rows are part of the training
measure but get no value. Memory and time per Sinkhorn iteration are ``O(N·M)`` (the cost
matrix is dense), which bounds LAVA to some 10⁴ × 10⁴ rows on one machine.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar, Literal

import numpy as np
import ot
from scipy.special import xlogy
from sklearn.base import TransformerMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from valuation.core.dataset import Dataset
from valuation.core.methods.base import RowValuation
from valuation.core.progress import ProgressReporter
from valuation.core.result import ValuationResult


def calibrated_gradient(potential: np.ndarray) -> np.ndarray:
    """``CG_i = f_i − Σ_{j≠i} f_j / (N − 1)`` for a training-side dual potential ``f``.

    Parameters
    ----------
    potential : array-like of shape (N,), N >= 2

    Returns
    -------
    numpy.ndarray
        Sums to 0; unchanged when a constant is added to ``potential``.
    """
    f = np.asarray(potential, dtype=np.float64)
    if f.ndim != 1 or f.shape[0] < 2:
        raise ValueError("the calibrated gradient needs a potential over at least two rows")
    n = f.shape[0]
    # Centre first so a large common offset cannot cost precision.
    centred = f - f.mean()
    return centred * (n / (n - 1))


def class_distances(
    X: np.ndarray,
    y: np.ndarray,
    X_valid: np.ndarray,
    y_valid: np.ndarray,
    *,
    max_class_samples: int | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact ``W₂²`` between every training class cloud and every validation class cloud.

    Returns
    -------
    classes, valid_classes, distances
        The sorted labels of each side and the matrix ``W[c, c′]``.
    """
    classes, valid_classes = np.unique(y), np.unique(y_valid)
    clouds = [_cloud(X[y == c], max_class_samples, rng) for c in classes]
    valid_clouds = [_cloud(X_valid[y_valid == c], max_class_samples, rng) for c in valid_classes]
    distances = np.empty((classes.shape[0], valid_classes.shape[0]))
    for a, A in enumerate(clouds):
        for b, B in enumerate(valid_clouds):
            weights_a = np.full(A.shape[0], 1.0 / A.shape[0])
            weights_b = np.full(B.shape[0], 1.0 / B.shape[0])
            distances[a, b] = ot.emd2(weights_a, weights_b, ot.dist(A, B), numItermax=10**7)
    return classes, valid_classes, distances


def _cloud(X: np.ndarray, max_samples: int | None, rng: np.random.Generator | None) -> np.ndarray:
    if max_samples is None or X.shape[0] <= max_samples:
        return X
    if rng is None:
        raise ValueError("subsampling a class needs a random generator")
    return X[np.sort(rng.choice(X.shape[0], size=max_samples, replace=False))]


class LAVA(RowValuation):
    """Optimal-transport data values with a label-aware cost (see the module docstring).

    Parameters
    ----------
    epsilon : float, default 0.1
        Entropic regularisation, in cost units (the KL-regularised problem
        ``min ⟨π, C⟩ + ε KL(π ‖ a⊗b)``).
    feature_weight, label_weight : float, default 1.0
        ``λ_x`` and ``λ_y`` of the ground cost.
    normalize_cost : bool, default True
        Divide the ground cost by the feature dimension ``d`` (after ``transform``).
    transform : "standardize", None or scikit-learn transformer, default "standardize"
        How features become ``φ(x)``: standardised with the training rows' mean and
        deviation, used as given (None; e.g. supplied embeddings), or a transformer cloned
        and fitted on the training rows.
    max_class_samples : int or None, default 2000
        Class clouds larger than this are subsampled for the label distances (exact OT is
        cubic in the cloud size); None never subsamples.
    random_state : int, optional
        Seed for that subsampling.
    max_iter : int, default 100000
        Sinkhorn iterations at most, per ε level.
    tol : float, default 1e-6
        Sinkhorn stops when the plan's validation marginal is within ``tol`` of the uniform
        one, in L2 norm relative to its norm. The ranking settles long before: where
        Sinkhorn is slowest (near-separate blocks of mass), CG at 1e-5 already correlates
        with the converged CG to 0.99999.
    progress : callable, optional
        ``progress(done_fraction, info)``: after the label distances and at the end.

    Attributes
    ----------
    result_ : ValuationResult
        ``values = −CG`` (summed over a group's rows); ``counts`` = validation rows, stderr 0
        (the values are deterministic).
    calibrated_gradients_ : numpy.ndarray of shape (train.n_rows,)
        CG of every training row (higher = more harmful).
    potentials_ : numpy.ndarray of shape (train.n_rows,)
        The training-side potential ``f`` (defined up to a constant).
    classes_, valid_classes_ : numpy.ndarray
        Labels indexing ``label_distances_`` (rows: training classes, columns: validation).
    label_distances_ : numpy.ndarray
        ``W[c, c′]`` (before the division by ``d``).
    transport_cost_ : float
        The entropic OT cost ``⟨π, C⟩ + ε KL(π ‖ a⊗b)`` (in the units of ``C``).
    n_iter_ : int
        Sinkhorn iterations run.
    n_utility_evaluations_ : int
        0: no model is trained.
    """

    method_name: ClassVar[str] = "lava"

    def __init__(
        self,
        *,
        epsilon: float = 0.1,
        feature_weight: float = 1.0,
        label_weight: float = 1.0,
        normalize_cost: bool = True,
        transform: Literal["standardize"] | TransformerMixin | None = "standardize",
        max_class_samples: int | None = 2000,
        random_state: int | None = None,
        max_iter: int = 100_000,
        tol: float = 1e-6,
        progress=None,
    ) -> None:
        self.epsilon = epsilon
        self.feature_weight = feature_weight
        self.label_weight = label_weight
        self.normalize_cost = normalize_cost
        self.transform = transform
        self.max_class_samples = max_class_samples
        self.random_state = random_state
        self.max_iter = max_iter
        self.tol = tol
        self.progress = progress

    def n_units(self, train: Dataset, valid: Dataset | None = None) -> int:
        """One unit: the transport problem is solved as a whole (``[0, 0)`` is empty)."""
        return 1

    def _problem(
        self, train: Any, valid: Any, baseline: Any, *, chunked: bool
    ) -> tuple[Dataset, Dataset, Dataset | None]:
        if not isinstance(train, Dataset) or not isinstance(valid, Dataset):
            raise ValueError("LAVA values a Dataset against a validation Dataset (valid)")
        train.check_features(valid=valid, baseline=baseline)
        if not self.epsilon > 0:
            raise ValueError(f"epsilon must be positive, got {self.epsilon!r}")
        if train.n_rows + (0 if baseline is None else baseline.n_rows) < 2:
            raise ValueError("LAVA needs at least two training rows")
        return train, valid, baseline

    def _partial(
        self, problem: tuple[Dataset, Dataset, Dataset | None], start: int, stop: int
    ) -> ValuationResult:
        """Solve the transport problem and value every player (unit 0)."""
        train, valid, baseline = problem
        if start == stop:
            return ValuationResult.empty(train.player_names, self.method_name)
        report = ProgressReporter(self.progress)
        X = train.X if baseline is None else np.concatenate([baseline.X, train.X])
        y = train.y if baseline is None else np.concatenate([baseline.y, train.y])
        features, valid_features = self._features(X, valid.X)
        rng = np.random.default_rng(self.random_state)
        self.classes_, self.valid_classes_, self.label_distances_ = class_distances(
            features,
            y,
            valid_features,
            valid.y,
            max_class_samples=self.max_class_samples,
            rng=rng,
        )
        report(0.5, method=self.method_name, n_units_done=0, n_units=1, n_evaluations=0)
        rows = np.searchsorted(self.classes_, y)
        cols = np.searchsorted(self.valid_classes_, valid.y)
        cost = self.feature_weight * ot.dist(features, valid_features)
        cost += self.label_weight * self.label_distances_[rows][:, cols]
        if self.normalize_cost:
            cost /= features.shape[1]
        potential = self._potential(cost)
        n_baseline = X.shape[0] - train.n_rows
        gradients = calibrated_gradient(potential)[n_baseline:]
        self.potentials_ = potential[n_baseline:]
        self.calibrated_gradients_ = gradients
        self.n_utility_evaluations_ = 0
        values = train.player_sums(-gradients)
        report(1.0, method=self.method_name, n_units_done=1, n_units=1, n_evaluations=0)
        return ValuationResult(
            values,
            np.full(train.n_players, valid.n_rows),
            train.player_names,
            method=self.method_name,
        )

    def _features(self, X: np.ndarray, X_valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.transform is None:
            return X, X_valid
        transformer = StandardScaler() if self.transform == "standardize" else clone(self.transform)
        fitted = transformer.fit(X)
        return (
            np.asarray(fitted.transform(X), dtype=np.float64),
            np.asarray(fitted.transform(X_valid), dtype=np.float64),
        )

    def _potential(self, cost: np.ndarray) -> np.ndarray:
        """Training-side potential of the entropic problem on ``cost``, by ε-scaling.

        Sinkhorn needs on the order of ``max C / ε`` iterations per decade of accuracy, so
        the problem is solved for ε halving from ``max C`` down to ``epsilon``, each level
        warm-started from the last one's potentials; every level runs POT's log-stabilised
        Sinkhorn (potentials absorbed in the log domain, so ``exp(−C/ε)`` never underflows).
        """
        a = np.full(cost.shape[0], 1.0 / cost.shape[0])
        b = np.full(cost.shape[1], 1.0 / cost.shape[1])
        f, g = np.zeros_like(a), np.zeros_like(b)
        threshold = self.tol * float(np.linalg.norm(b))
        level, iterations = max(float(cost.max()), float(self.epsilon)), 0
        while True:
            level = max(float(self.epsilon), level / 2)
            final = level == self.epsilon
            plan, log = ot.bregman.sinkhorn_stabilized(
                a,
                b,
                cost,
                level,
                numItermax=self.max_iter,
                # Intermediate levels only need to land near the next level's answer.
                stopThr=threshold if final else max(threshold, 1e-5),
                warmstart=(f, g),
                # POT restarts the scalings at 1/N after every absorption, so with the default
                # threshold (1e3) a warm start on more than 1,000 rows absorbs at every step
                # and never converges; a high threshold absorbs only when it is needed.
                tau=1e10,
                # The marginal check costs an exp over the whole N×M matrix: do it every 50
                # iterations rather than every 10.
                print_period=50,
                log=True,
                warn=False,
            )
            f, g = log["alpha"], log["beta"]
            iterations += int(log["n_iter"]) + 1
            if final:
                break
        if not (np.isfinite(f).all() and np.isfinite(plan).all()):
            raise ValueError(
                "Sinkhorn broke down numerically; increase epsilon or rescale the features"
            )
        self.n_iter_ = iterations
        error = float(log["err"][-1]) / float(np.linalg.norm(b))
        if error > self.tol:
            warnings.warn(
                f"Sinkhorn stopped after {self.max_iter} iterations at ε = {self.epsilon:g} "
                f"with a relative marginal error of {error:.2e} > tol={self.tol:g}; raise "
                "max_iter or epsilon",
                ConvergenceWarning,
                stacklevel=3,
            )
        entropy = xlogy(plan, plan).sum() - xlogy(plan, np.outer(a, b)).sum()
        self.transport_cost_ = float((plan * cost).sum() + self.epsilon * entropy)
        return f
