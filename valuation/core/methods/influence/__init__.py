"""Closed-form influence of training rows on linear and logistic models, and AMIP.

* :mod:`.models` — the models as weighted, L2-penalised M-estimators: fits, per-row
  gradients, Hessians, standard errors (ols, ridge, logistic).
* :mod:`.values` — :class:`Influence`, a row-level valuation: each player's first-order
  effect on the validation loss, per validation row.
* :mod:`.amip` — :class:`AMIP`, the removal sensitivity of a fit: the fewest players whose
  removal flips a coefficient's sign or significance, or moves the validation loss past a
  threshold, each confirmed by refit.
"""

from valuation.core.methods.influence.amip import (
    AMIP,
    AMIPResult,
    AMIPSignal,
    approximate_perturbation,
)
from valuation.core.methods.influence.values import Influence

__all__ = ["AMIP", "AMIPResult", "AMIPSignal", "Influence", "approximate_perturbation"]
