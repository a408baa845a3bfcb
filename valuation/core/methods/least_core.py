"""The egalitarian least core (market.md §1.6): a payout no coalition can object to by much.

With ``v(S) = U(S) − U(∅)`` the least core is the set of payouts ``x`` that solve

    minimise e   subject to   Σ_{i∈N} x_i = v(N),   Σ_{i∈S} x_i + e ≥ v(S)  for S ≠ ∅, N

``e*`` is the *subsidy*: the most any coalition falls short of its stand-alone value (the
core is non-empty iff ``e* ≤ 0``). Stage one solves this LP with HiGHS. The least core is
usually a set, so stage two picks its **minimum-ℓ₂** point (the egalitarian least core),
which is unique: with ``e`` fixed at ``e*`` (plus a slack of ``1e-9`` times the utility
scale, since the LP is solved to floating-point tolerance), ``x = x₀ + Bz`` with
``x₀ = v(N)/n · 1`` and ``B`` an orthonormal basis of ``{Σ x = 0}`` turns it into a
least-distance problem ``min ‖z‖ s.t. Gz ≥ h``, solved exactly by one non-negative least
squares (Lawson & Hanson, ch. 23). Both stages are deterministic.

Coalitions: every one (``n_samples=None``; ``2**n`` utilities, a ``subsets`` table shared
with the exact methods), or for large games ∅, N, the singletons and ``n_samples`` distinct
uniformly random coalitions (Yan & Procaccia's δ-probable least core: with
O((n + log 1/Δ)/δ²) samples the payout violates at most a δ fraction of coalitions'
constraints by more than ``e*``). The singletons are always included: they keep the LP
bounded (summing their constraints gives ``n·e ≥ Σ v(i) − v(N)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
from scipy.linalg import null_space
from scipy.optimize import linprog, nnls

from valuation.core.chunking import UtilityTable, resolve_seed, sample_rng
from valuation.core.dataset import Dataset
from valuation.core.game import Game, RunUtility
from valuation.core.methods.base import CoalitionsValuation
from valuation.core.progress import ProgressReporter
from valuation.core.result import ValuationResult

#: HiGHS tolerances: the LP is small, so tight tolerances cost nothing.
_HIGHS_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}


def least_core(n_players: int, utilities: Mapping[int, float]) -> tuple[np.ndarray, float]:
    """The egalitarian least-core payout and its subsidy.

    Parameters
    ----------
    n_players : int
    utilities : mapping of int to float
        Coalition bit mask → utility; must hold ∅ (0) and N. Every other coalition in it is a
        constraint.

    Returns
    -------
    payout : ndarray of shape (n_players,)
        Minimum-norm ``x`` with ``Σ x = U(N) − U(∅)``.
    subsidy : float
        ``max_S (v(S) − Σ_{i∈S} x_i)`` over the constraints at that payout (``e*`` up to
        the stage-two slack; 0-player-constraint games give ``-inf``).
    """
    n = n_players
    grand = (1 << n) - 1
    base = utilities[0]
    total = utilities[grand] - base
    masks = np.array(sorted(m for m in utilities if m not in (0, grand)), dtype=object)
    if masks.shape[0] == 0:
        return np.full(n, total / n), float("-inf")
    members = np.array([[(int(m) >> i) & 1 for i in range(n)] for m in masks], dtype=float)
    worth = np.array([utilities[int(m)] - base for m in masks])
    # Stage one: variables (x, e); Σ_S x + e ≥ v(S) written as −Σ_S x − e ≤ −v(S).
    lp = linprog(
        c=np.r_[np.zeros(n), 1.0],
        A_ub=-np.hstack([members, np.ones((members.shape[0], 1))]),
        b_ub=-worth,
        A_eq=np.r_[np.ones(n), 0.0][None, :],
        b_eq=[total],
        bounds=[(None, None)] * (n + 1),
        method="highs",
        options=_HIGHS_OPTIONS,
    )
    if lp.status != 0:
        raise ValueError(f"the least-core LP failed: {lp.message}")
    subsidy = float(lp.x[n])
    slack = 1e-9 * (1.0 + float(np.max(np.abs(worth))) + abs(total))
    payout = _minimum_norm(members, worth - subsidy - slack, total)
    return payout, float(np.max(worth - members @ payout))


def _minimum_norm(members: np.ndarray, bound: np.ndarray, total: float) -> np.ndarray:
    """``argmin ‖x‖ s.t. members·x ≥ bound, Σ x = total`` as a least-distance problem."""
    n = members.shape[1]
    start = np.full(n, total / n)
    if n == 1:
        return start
    basis = null_space(np.ones((1, n)))  # orthonormal, orthogonal to `start`
    G = members @ basis
    h = bound - members @ start
    E = np.vstack([G.T, h[None, :]])
    f = np.zeros(n)
    f[-1] = 1.0
    weights, _ = nnls(E, f, maxiter=50 * E.shape[1])
    residual = E @ weights - f
    if np.linalg.norm(residual) <= 1e-14:
        raise ValueError("the least-core constraints are infeasible at the LP's subsidy")
    return start + basis @ (-residual[:-1] / residual[-1])


class LeastCore(CoalitionsValuation):
    """Egalitarian least-core payouts (see the module docstring).

    Parameters
    ----------
    model : scikit-learn estimator, optional
        Required when fitting a Dataset.
    scorer : str or callable, optional
        Scorer name or ``callable(model, X, y)``; default accuracy / r2.
    cache : UtilityCache, optional
        Cache for the model game.
    n_samples : int, optional
        None (default): every coalition is a constraint (exact; at most ``max_players``).
        Otherwise the number of random coalitions beyond ∅, N and the singletons.
    random_state : int, optional
        Seed of the sampled coalitions (``sample_rng(random_state, 0)``); unused when exact.
    max_players : int, default 16
        Largest game solved exactly.
    progress : callable, optional
        ``progress(done_fraction, info)``, every 1% of the coalitions.

    Attributes
    ----------
    result_ : ValuationResult
        The payout as values (stderr 0; counts = constraints); ``total_gain = U(N) − U(∅)``
        and the efficiency gap is 0 up to rounding.
    subsidy_ : float
        The least-core excess ``e*`` at the payout (≤ 0: the core is non-empty).
    n_utility_evaluations_ : int
        Coalitions evaluated.
    """

    method_name: ClassVar[str] = "least_core"

    def __init__(
        self,
        *,
        model=None,
        scorer=None,
        cache=None,
        n_samples: int | None = None,
        random_state: int | None = None,
        max_players: int = 16,
        progress=None,
    ) -> None:
        self.model = model
        self.scorer = scorer
        self.cache = cache
        self.n_samples = n_samples
        self.random_state = random_state
        self.max_players = max_players
        self.progress = progress

    def _exact(self, n: int) -> bool:
        if self.n_samples is None:
            if n > self.max_players:
                raise ValueError(
                    f"LeastCore with every coalition evaluates 2**{n} of them; {n} players "
                    f"exceed max_players={self.max_players} (set n_samples to sample them)"
                )
            return True
        if isinstance(self.n_samples, bool) or not isinstance(self.n_samples, int):
            raise ValueError(f"n_samples must be an int or None, got {self.n_samples!r}")
        if self.n_samples < 0:
            raise ValueError(f"n_samples must be >= 0, got {self.n_samples}")
        return self.n_samples >= 2**n - n - 2

    def _units(self, n: int, seed: int | None) -> list[int]:
        """The coalitions, in unit order."""
        if self._exact(n):
            return list(range(2**n))
        grand = (1 << n) - 1
        units = list(dict.fromkeys([0, grand, *(1 << i for i in range(n))]))
        seen = set(units)
        rng = sample_rng(resolve_seed(seed), 0)
        target = len(units) + self.n_samples
        while len(units) < target:
            mask = int(sum(1 << int(i) for i in np.flatnonzero(rng.integers(0, 2, n))))
            if mask not in seen:
                seen.add(mask)
                units.append(mask)
        return units

    def n_units(self, train: Dataset | Game, valid: Dataset | None = None) -> int:
        n = train.n_players
        # Sampled mode only happens for n >= 3, where ∅, N and the singletons are distinct.
        return 2**n if self._exact(n) else n + 2 + self.n_samples

    def _seed(self, n: int) -> int | None:
        if self._exact(n):
            return None
        if self.random_state is None:
            raise ValueError("sampled LeastCore needs an integer random_state")
        return resolve_seed(self.random_state)

    def reduce(self, partial: UtilityTable | ValuationResult) -> ValuationResult:
        """Solve the least core over the merged table's coalitions; sets ``subsidy_``."""
        if not isinstance(partial, UtilityTable) or partial.kind != "subsets":
            raise ValueError("LeastCore reduces a 'subsets' UtilityTable")
        n = partial.n_players
        units = self._units(n, self._seed(n))
        missing = [m for m in units if m not in partial.utilities]
        if missing:
            raise ValueError(f"the table misses {len(missing)} coalitions of the plan")
        payout, subsidy = least_core(n, {m: partial.utilities[m] for m in units})
        self.subsidy_ = subsidy
        gain = partial.utilities[(1 << n) - 1] - partial.utilities[0]
        return ValuationResult(
            payout, np.full(n, len(units)), partial.names, method=self.method_name, total_gain=gain
        )

    def _evaluate(self, game: Game, start: int, stop: int) -> UtilityTable:
        n = game.n_players
        units = self._units(n, self._seed(n))
        if not 0 <= start <= stop <= len(units):
            raise ValueError(f"chunk [{start}, {stop}) is outside [0, {len(units)})")
        run = RunUtility(game)
        report = ProgressReporter(self.progress)
        step = max(1, (stop - start) // 100)
        utilities = {}
        for k, mask in enumerate(units[start:stop], start=1):
            utilities[mask] = run(mask)
            if k % step == 0 or k == stop - start:
                report(k / (stop - start), method=self.method_name, n_evaluations=k)
        if start == stop:
            report(1.0, method=self.method_name, n_evaluations=0)
        self.n_utility_evaluations_ = run.n_evaluations
        return UtilityTable("subsets", game.names, utilities)
