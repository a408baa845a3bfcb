"""Posted-price learning by multiplicative weights (Agarwal, Dahleh & Sarkar 2019, Algorithm 1).

Every price of an ε-net of ``[0, b_max]`` is an expert. Before a buyer arrives a price is drawn
with probability proportional to its weight; once the buyer has bid, every expert is rewarded
with the revenue RF*(c, b) it *would* have earned (:func:`~pricing.mechanisms.myerson.
revenue_by_price`), scaled to [0, 1] by ``b_max``: ``w ← w · (1 + δ·g)``. With
``ε = 1/(L√N)`` and ``δ = √(log K / N)`` the expected average regret against the best fixed
price is ``O(√(log N / N))``, for any bid sequence (Theorem 5.2).

The state — weights, round number, seed — serialises with ``to_dict`` so the app can persist
it between buyers. Each round's draw comes from its own generator, seeded by (seed, round), so
asking for the current price twice gives the same answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["MultiplicativeWeightsPricer", "regret_bound"]


def regret_bound(
    n_rounds: int,
    n_prices: int,
    b_max: float,
    *,
    lipschitz: float = 0.0,
    epsilon: float = 0.0,
) -> float:
    """Bound on the expected average regret of :class:`MultiplicativeWeightsPricer`.

    For gains in [0, 1] and ``δ = √(log K / N)``, ``w ← w(1 + δg)`` loses at most
    ``log K / δ + δN = 2√(N log K)`` against the best of K experts, i.e. an average of
    ``2·b_max·√(log K / N)`` in revenue. Against the best price of the whole interval, add the
    discretisation cost ``L·ε`` of an ε-net for an L-Lipschitz revenue.

    Parameters
    ----------
    n_rounds : int
        Number of buyers N.
    n_prices : int
        Size K of the price grid.
    b_max : float
        Largest possible bid.
    lipschitz, epsilon : float, default 0
        Lipschitz constant of RF* in the price, and the grid spacing.

    Returns
    -------
    float
    """
    if n_rounds < 1 or n_prices < 1:
        raise ValueError("n_rounds and n_prices must be >= 1")
    return 2.0 * b_max * math.sqrt(math.log(n_prices) / n_rounds) + lipschitz * epsilon


class MultiplicativeWeightsPricer:
    """Learn a posted price over an ε-net of ``[0, b_max]`` by multiplicative weights.

    Parameters
    ----------
    b_max : float
        Largest possible bid (per unit of gain); revenues are scaled by it.
    n_rounds : int
        Expected number of buyers N (the horizon the step sizes are tuned for).
    lipschitz : float, default 1.0
        Lipschitz constant L of RF* in the price; sets the default grid spacing.
    epsilon : float or None, default None
        Grid spacing; None means ``1 / (L·√N)`` (Theorem 5.2).
    delta : float or None, default None
        Learning rate; None means ``√(log K / N)`` for a grid of K prices, capped at 1.
    random_state : int or None, default None
        Seed of the price draws; None draws fresh entropy at the first call (and records it in
        ``seed_`` so the state stays reproducible once saved).

    Attributes
    ----------
    prices_ : ndarray of shape (K,)
        The price grid, from 0 to ``b_max``.
    delta_ : float
        The learning rate in use.
    log_weights_ : ndarray of shape (K,)
        Natural log of each price's weight (logs keep long runs from overflowing).
    n_updates_ : int
        Buyers seen so far.
    seed_ : int
        Seed of the price draws.
    """

    def __init__(
        self,
        *,
        b_max: float,
        n_rounds: int,
        lipschitz: float = 1.0,
        epsilon: float | None = None,
        delta: float | None = None,
        random_state: int | None = None,
    ) -> None:
        self.b_max = b_max
        self.n_rounds = n_rounds
        self.lipschitz = lipschitz
        self.epsilon = epsilon
        self.delta = delta
        self.random_state = random_state

    def _initialise(self) -> None:
        if hasattr(self, "prices_"):
            return
        if not (math.isfinite(self.b_max) and self.b_max > 0):
            raise ValueError("b_max must be finite and > 0")
        if self.n_rounds < 1:
            raise ValueError("n_rounds must be >= 1")
        if not (math.isfinite(self.lipschitz) and self.lipschitz > 0):
            raise ValueError("lipschitz must be finite and > 0")
        eps = self.epsilon
        if eps is None:
            eps = 1.0 / (self.lipschitz * math.sqrt(self.n_rounds))
        if not (math.isfinite(eps) and eps > 0):
            raise ValueError("epsilon must be finite and > 0")
        n_prices = math.ceil(self.b_max / eps) + 1
        self.prices_ = np.linspace(0.0, self.b_max, n_prices)
        delta = self.delta
        if delta is None:
            delta = min(1.0, math.sqrt(math.log(n_prices) / self.n_rounds))
        if not 0 < delta <= 1:
            raise ValueError("delta must lie in (0, 1]")
        self.delta_ = float(delta)
        self.log_weights_ = np.zeros(n_prices)
        self.n_updates_ = 0
        if self.random_state is None:
            self.seed_ = int(np.random.SeedSequence().entropy)
        else:
            self.seed_ = int(self.random_state)

    def probabilities(self) -> np.ndarray:
        """Probability of drawing each grid price next (they sum to 1)."""
        self._initialise()
        w = np.exp(self.log_weights_ - self.log_weights_.max())
        return w / w.sum()

    def post_price(self) -> float:
        """The price for the next buyer, drawn before their bid; the same until the update."""
        self._initialise()
        round_seed = np.random.SeedSequence(self.seed_, spawn_key=(self.n_updates_,))
        rng = np.random.default_rng(round_seed)
        return float(self.prices_[rng.choice(self.prices_.size, p=self.probabilities())])

    def partial_fit(self, revenues: ArrayLike) -> MultiplicativeWeightsPricer:
        """Reward every grid price with the revenue it would have earned from the last buyer.

        Parameters
        ----------
        revenues : array-like of shape (K,)
            RF*(c, b) for each grid price c, in ``[0, b_max]``
            (see :func:`~pricing.mechanisms.myerson.revenue_by_price`).

        Returns
        -------
        self
        """
        self._initialise()
        r = np.asarray(revenues, dtype=float)
        if r.shape != self.prices_.shape or not np.all(np.isfinite(r)):
            raise ValueError(f"revenues must be {self.prices_.size} finite numbers")
        if np.any(r < 0) or np.any(r > self.b_max * (1 + 1e-12)):
            raise ValueError("revenues must lie in [0, b_max]")
        gains = np.minimum(r / self.b_max, 1.0)
        self.log_weights_ = self.log_weights_ + np.log1p(self.delta_ * gains)
        self.n_updates_ += 1
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe state: parameters and learned weights."""
        self._initialise()
        return {
            "params": {
                "b_max": self.b_max,
                "n_rounds": self.n_rounds,
                "lipschitz": self.lipschitz,
                "epsilon": self.epsilon,
                "delta": self.delta,
                "random_state": self.random_state,
            },
            "seed": self.seed_,
            "n_updates": self.n_updates_,
            "log_weights": self.log_weights_.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MultiplicativeWeightsPricer:
        """Restore a pricer saved with :meth:`to_dict`."""
        pricer = cls(**data["params"])
        pricer._initialise()
        log_weights = np.asarray(data["log_weights"], dtype=float)
        if log_weights.shape != pricer.prices_.shape:
            raise ValueError("saved weights do not match the price grid")
        pricer.log_weights_ = log_weights
        pricer.n_updates_ = int(data["n_updates"])
        pricer.seed_ = int(data["seed"])
        return pricer
