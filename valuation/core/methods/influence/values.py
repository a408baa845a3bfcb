"""Influence: each player's first-order value for a linear or logistic model's validation loss.

Removing a player's rows (weights ``w = 0``) changes the validation loss of row ``v`` by
``∇ℓ_v(θ̂)ᵀ H⁻¹ Σ_{n∈i} g_n`` to first order (:mod:`.models`); the value is its mean over
the validation rows, which are the units of work.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from valuation.core.dataset import Dataset
from valuation.core.methods.base import RowValuation
from valuation.core.methods.influence.models import Model, Setup, build_setup, solve
from valuation.core.progress import ProgressReporter
from valuation.core.result import ValuationResult


class Influence(RowValuation):
    """First-order value of each player for a linear or logistic model's validation loss.

    ``value_i = mean over validation rows v of (ℓ_v(θ̂ without i) − ℓ_v(θ̂))`` to first
    order, ``= mean_v ∇ℓ_v(θ̂)ᵀ H⁻¹ Σ_{n∈i} g_n``: positive when removing the player's rows
    would raise the validation loss (a useful player), negative for harmful ones such as
    mislabeled rows.

    Parameters
    ----------
    model : {"logistic", "ridge", "ols"}, default "logistic"
        The model family (see :mod:`~valuation.core.methods.influence.models` for the
        exact objectives).
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

    def _problem(
        self, train: Dataset, valid: Dataset | None, baseline: Dataset | None, *, chunked: bool
    ) -> tuple[Setup, Dataset]:
        """The model problem on ``baseline ∪ train``, and ``valid``."""
        if not isinstance(valid, Dataset):
            raise ValueError("Influence works per validation row: pass valid")
        setup = build_setup(self.model, self.alpha, self.fit_intercept, train, baseline)
        train.check_features(valid=valid)
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        return setup, valid

    def _partial(self, problem: tuple[Setup, Dataset], start: int, stop: int) -> ValuationResult:
        """Fit the model and value every player on validation rows ``[start, stop)``.

        Chunks merge with ``+`` into the values over all their rows. Sets the fitted
        attributes and ``n_utility_evaluations_ = 1``.
        """
        setup, valid = problem
        train, model = setup.train, setup.problem
        w = np.ones(model.Z.shape[0])
        theta = model.fit(w)
        hessian = model.hessian(theta, w)
        train_gradients = model.row_gradients(model.Z, model.y, theta)[setup.n_baseline :]
        self.coef_ = theta
        self.param_names_ = setup.param_names
        self.classes_ = setup.classes
        self.coef_influence_ = train.player_sums(-solve(hessian, train_gradients.T)).T
        self.n_utility_evaluations_ = 1
        Zv, yv = setup.design(valid.X), setup.encode(valid.y)
        report = ProgressReporter(self.progress)
        result = ValuationResult.empty(train.player_names, self.method_name)
        for first in range(start, stop, self.batch_size):
            last = min(first + self.batch_size, stop)
            valid_gradients = model.metric_gradients(Zv[first:last], yv[first:last], theta)
            per_row = train_gradients @ solve(hessian, valid_gradients.T)
            samples = train.player_sums(per_row.T)  # one sample per validation row
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
