"""Shapley values of the rows, summed per owner: a split that no identity can game.

Provider-level Shapley values (players = datasets) reward whoever cuts the same rows into
more datasets: with diminishing returns, a player's first marginals are its largest, and
more players mean more weight on them. Here the players are always the **rows** of
``train`` (the buyer's baseline is in every coalition and is no player); an owner's total
is the sum of its rows' values, ``Φ_G = Σ_{i ∈ G} φ_i``. The credits are computed without
reading who owns a row, and the rows are put in an order fixed by their content before any
coalition is drawn, so for a given seed the same rows earn the same credit however they
are spread over owners: splitting, merging or relabelling owners changes no total.

The estimator (a size-stratified contrast, after Kolpaczki et al.'s stratified SVARM).
For rows ``1..N`` and a coalition size ``m``, let ``D_m(i)`` be the mean utility of the
size-``m`` coalitions that contain ``i`` minus that of those that do not. Then

    φ_i = (U(N) − U(∅)) / N + (1/N) Σ_{m=1}^{N−1} D_m(i),

and ``Σ_i D_m(i) = 0`` for every ``m``. One unit of work draws, in each of ``n_strata``
strata of sizes, one size ``m`` (with probability ``q(m) ∝ (m (N − m))^−a``, the
``size_exponent``) and ``r`` coalitions of that size uniformly; every coalition informs
every row:

    credit_i += N / (q_l(m) (r − 1) m (N − m)) · Σ_j (U(S_j) − Ū) · 1[i ∈ S_j]

with ``Ū`` the mean of the ``r`` utilities and ``q_l`` the within-stratum probability.
Centring on the others' mean makes the estimate of ``D_m`` exactly unbiased, and because
``Σ_j (U(S_j) − Ū) = 0`` the credits of a unit sum to zero: the row values add up to
``U(N) − U(∅)`` exactly (efficiency), whatever was sampled. Identical rows are given the
mean of their credits (they are interchangeable players, so their values are equal).

A control variate (:mod:`~valuation.core.control`). Shapley values are linear in the game:
``φ(U) = φ(U − V) + φ(V)`` for any game ``V``. When the model is a logistic regression scored
by accuracy, ``V`` is the accuracy of a ridge classifier fitted on the same coalition, which
tracks ``U`` closely and costs a small solve instead of a fit. A unit then adds the
contrasts of ``U − V`` on its coalitions and the mean contrast of ``V`` over
``control_rounds`` more draws of the same design. Each part is unbiased, the credits of a
unit still sum to zero, and ``V`` reads rows, not owners: what held above still holds, with
a fraction of the noise.

Uncertainty: units are independent, so an owner's standard error is the standard deviation
of its per-unit sums over √units — computed after the credits, from the owners' sums, so it
is honest for any grouping (checked over seeds in the tests).

Precision and its rivals (truncated row permutations, batched walks, other metrics) are
measured in ``benchmarks/manipulation.py`` and reported in ``docs/benchmarks/manipulation.md``.

Chunk protocol: units are numbered ``0 … n_units − 1`` (``n_units = budget // (strata ×
r)``) and unit ``u`` draws from :func:`~valuation.core.chunking.sample_rng` ``(seed, u)``,
so any chunking gives the result of ``fit``. The chunk holding unit 0 also measures
``U(N)`` and ``U(∅)``. Partials are :class:`~valuation.core.result.RowCredits`. What a
chunk derives from the rows alone (their content order, and which rows copy which) is
computed once per training :class:`~valuation.core.dataset.Dataset` object and kept while it
lives, so the chunks of one job on one worker process share it (at 1.5 million rows it is
about 10 s).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from valuation.core.chunking import chunk_seed, resolve_seed, sample_rng
from valuation.core.control import RidgeControl, control_flops, tracks
from valuation.core.dataset import Dataset
from valuation.core.detection import copy_attribution
from valuation.core.game import Game, RunUtility, coalition_mask
from valuation.core.methods.base import Valuation
from valuation.core.progress import ProgressReporter
from valuation.core.result import RowCredits, ValuationResult
from valuation.core.utility import ModelUtility

#: Utility evaluations of a run when ``budget`` is None: nine times the 1,024 coalitions
#: of an exact ten-provider game.
DEFAULT_BUDGET = 9_216

#: Arithmetic a run may spend on its control (about 20 s on one core here): at 2,000 rows
#: of 20 features the full ``control_rounds``, at a million rows none.
CONTROL_FLOPS = 6e11


@dataclass(frozen=True)
class _Stratum:
    """Coalition sizes of one stratum and their probabilities within it."""

    sizes: np.ndarray
    probabilities: np.ndarray


def size_strata(n_rows: int, n_strata: int, exponent: float) -> list[_Stratum]:
    """Sizes ``1 … n_rows − 1`` cut into at most ``n_strata`` strata of equal mass under
    ``q(m) ∝ (m (n_rows − m))^−exponent`` (a size heavier than one stratum's mass is a
    stratum of its own). Depends on the number of rows only."""
    sizes = np.arange(1, n_rows, dtype=np.int64)
    if sizes.size == 0:
        return []
    q = (sizes * (n_rows - sizes)).astype(np.float64) ** -exponent
    q /= q.sum()
    midpoints = np.cumsum(q) - q / 2
    labels = np.minimum((midpoints * n_strata).astype(np.int64), n_strata - 1)
    strata = []
    for label in np.unique(labels):
        chosen = labels == label
        strata.append(_Stratum(sizes[chosen], q[chosen] / q[chosen].sum()))
    return strata


def canonical_order(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An order of the rows fixed by their content, and the class of identical rows of each
    row in that order (consecutive integers; rows with equal features and label share one).

    Sorting by content (label code, then every feature) makes the estimator's draws, which
    name rows by position, independent of the order the rows came in — and so of which
    owner's file they came from.
    """
    _, codes = np.unique(y, return_inverse=True)
    order = np.lexsort((*X.T[::-1], codes.ravel()))
    X_sorted, codes_sorted = X[order], codes.ravel()[order]
    if order.size < 2:
        return order, np.zeros(order.size, dtype=np.int64)
    same = np.all(X_sorted[1:] == X_sorted[:-1], axis=1) & (codes_sorted[1:] == codes_sorted[:-1])
    ties = np.concatenate([[0], np.cumsum(~same)])
    return order, ties


#: Per training Dataset (held weakly): its content order and ties, and, per validation
#: Dataset, the row each row's credit goes to.
_DERIVED: weakref.WeakKeyDictionary[Dataset, dict] = weakref.WeakKeyDictionary()


def _derived(train: Dataset) -> dict:
    derived = _DERIVED.get(train)
    if derived is None:
        derived = _DERIVED[train] = {"order": canonical_order(train.X, train.y), "copies": {}}
    return derived


def _copy_targets(train: Dataset, owner_of_row: np.ndarray, valid: Dataset) -> np.ndarray:
    """:func:`copy_attribution` of ``train`` with ``valid`` as the scale's reference, once."""
    copies = _derived(train)["copies"]
    kept = copies.get(id(valid))
    if kept is None or kept[0] is not valid:
        targets = copy_attribution(train.X, train.y, owner_of_row, valid.X)
        kept = copies[id(valid)] = (valid, targets)
    return kept[1]


class RowShapley(Valuation):
    """Row-level Shapley values, estimated owner-blind, and each owner's total.

    Parameters
    ----------
    model : scikit-learn estimator, optional
        Required when fitting a Dataset.
    scorer : str or callable, optional
        Scorer name or ``callable(model, X, y)``; default accuracy / r2.
    cache : UtilityCache, optional
        Cache for the model game (keyed by row coalition).
    progress : callable, optional
        ``progress(done_fraction, info)``, called after every unit.
    random_state : int, optional
        Seed; unit ``u`` uses ``sample_rng(random_state, u)``. None draws fresh entropy
        (recorded in ``seed_``); chunked runs need an int.
    budget : int, optional
        Utility evaluations for the sampled units (default 9,216); the run does
        ``max(1, budget // (strata × coalitions_per_stratum))`` units, plus the two ends.
    n_strata : int, default 16
        Strata of coalition sizes per unit.
    coalitions_per_stratum : int, default 8
        Coalitions of one size per stratum and unit (``r ≥ 2``; centring on the others
        costs a factor ``r / (r − 1)`` of variance).
    size_exponent : float, default 0.75
        ``a`` of ``q(m) ∝ (m (N − m))^−a``: more draws of small and large coalitions,
        where utilities vary most.
    floor : bool, default False
        Value no coalition below the empty one (the model game's ``floor``): small
        coalitions' scores (an R² of −100, a one-class coalition's Brier score) would
        otherwise swamp the estimate.
    copies : bool, default False
        Credit a row that nearly duplicates a row with the same label of an *earlier* player
        (players are numbered in order of first appearance in ``groups``: list the oldest
        upload first) to that original instead (:func:`~valuation.core.detection.
        copy_attribution`, with the validation rows as the scale's reference): whoever copies
        another's rows
        earns nothing for them, and the original keeps what the pair earned. Linear in the
        credits, so efficiency holds and regrouping the copier's own rows still moves
        nothing.
    control_rounds : int, default 32
        Draws of the control game per unit (:mod:`~valuation.core.control`; 0 turns it
        off). Used when the model is a logistic regression (or ridge classifier) scored by
        accuracy; capped so the control's arithmetic stays under :data:`CONTROL_FLOPS`. It
        changes no expected value and no efficiency, only the noise: on 10 × 200 rows the
        owners' errors fall to about 40% (``benchmarks/manipulation.py``).

    Attributes
    ----------
    result_ : ValuationResult
        One value per player of ``train`` (per owner when it has groups, per row
        otherwise): the sum of its rows' values, with the standard error of that sum.
        ``total_gain = U(all rows) − U(∅)`` and the values add up to it exactly.
    row_result_ : ValuationResult
        One value per row of ``train``, in the input order.
    credits_ : RowCredits
        The merged partial both are read from.
    n_utility_evaluations_ : int
        Distinct coalitions evaluated: fits of the model.
    n_control_evaluations_ : int
        Coalitions the control was evaluated on (closed-form solves, no model fit).
    seed_ : int
        The seed used.
    """

    method_name: ClassVar[str] = "row_shapley"

    def __init__(
        self,
        *,
        model=None,
        scorer=None,
        cache=None,
        progress=None,
        random_state: int | None = None,
        budget: int | None = None,
        n_strata: int = 16,
        coalitions_per_stratum: int = 8,
        size_exponent: float = 0.75,
        floor: bool = False,
        copies: bool = False,
        control_rounds: int = 32,
    ) -> None:
        self.model = model
        self.scorer = scorer
        self.cache = cache
        self.progress = progress
        self.random_state = random_state
        self.budget = budget
        self.n_strata = n_strata
        self.coalitions_per_stratum = coalitions_per_stratum
        self.size_exponent = size_exponent
        self.floor = floor
        self.copies = copies
        self.control_rounds = control_rounds

    # --- planning -----------------------------------------------------------------------

    def _check(self) -> None:
        if self.n_strata < 1:
            raise ValueError(f"n_strata must be at least 1, got {self.n_strata}")
        if self.coalitions_per_stratum < 2:
            raise ValueError(
                f"coalitions_per_stratum must be at least 2, got {self.coalitions_per_stratum}"
            )
        if not self.size_exponent >= 0:
            raise ValueError(f"size_exponent must be >= 0, got {self.size_exponent!r}")
        if self.control_rounds < 0:
            raise ValueError(f"control_rounds must be >= 0, got {self.control_rounds}")
        if self.budget is not None and self.budget < 1:
            raise ValueError(f"budget must be a positive number of evaluations, got {self.budget}")

    def fits_per_unit(self, n_rows: int) -> int:
        """Utility evaluations one unit asks for."""
        strata = size_strata(n_rows, self.n_strata, self.size_exponent)
        return len(strata) * self.coalitions_per_stratum

    def n_units(self, train: Dataset | Game, valid: Dataset | None = None) -> int:
        """Units of a run on ``train`` (anything with ``n_rows``, or a Game's players)."""
        self._check()
        n_rows = _n_rows(train)
        budget = DEFAULT_BUDGET if self.budget is None else self.budget
        per_unit = self.fits_per_unit(n_rows)
        return max(1, budget // per_unit) if per_unit else 1

    # --- the row game ------------------------------------------------------------------

    def _row_game(self, train, valid, baseline) -> tuple[Game, np.ndarray, np.ndarray]:
        """The game whose players are the rows in content order, that order, and ties."""
        if isinstance(train, Game):
            # A Game's players are the rows already; there is no content to order by.
            if valid is not None or baseline is not None:
                raise ValueError("valid and baseline must be None when fitting a Game")
            order = np.arange(train.n_players)
            return train, order, order.copy()
        if not isinstance(train, Dataset):
            raise ValueError(f"train must be a Dataset or a Game, not {type(train).__name__}")
        if valid is None:
            raise ValueError("valid (a Dataset) is required to value a Dataset")
        if self.model is None:
            raise ValueError("RowShapley needs a model to value a Dataset")
        order, ties = _derived(train)["order"]
        rows = Dataset(train.X[order], train.y[order])
        utility = ModelUtility(self.model, self.scorer, cache=self.cache, floor=self.floor)
        game = utility.bind(rows, valid, baseline)
        return game, order, ties

    @staticmethod
    def _owners(train) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(train, Game):
            return np.arange(train.n_players), train.names
        return train.player_of_row, train.player_names

    def _draw(self, strata: list[_Stratum], n: int, rng: np.random.Generator):
        """One unit's coalitions: per stratum, the weight of its contrast and its ``r``
        coalitions of one size (sorted row positions)."""
        r = self.coalitions_per_stratum
        drawn = []
        for stratum in strata:
            pick = int(rng.choice(stratum.sizes.size, p=stratum.probabilities))
            size = int(stratum.sizes[pick])
            members = [np.sort(rng.choice(n, size, replace=False)) for _ in range(r)]
            weight = n / (stratum.probabilities[pick] * (r - 1) * size * (n - size))
            drawn.append((weight, members))
        return drawn

    @staticmethod
    def _contrast(credits: np.ndarray, drawn, utilities: np.ndarray, scale: float) -> None:
        """Add ``scale`` times the contrasts of ``drawn`` coalitions worth ``utilities``."""
        per_stratum = utilities.reshape(len(drawn), -1)
        for (weight, members), values in zip(drawn, per_stratum):
            for m, deviation in zip(members, values - values.mean()):
                credits[m] += scale * weight * deviation

    def _unit(
        self,
        run: RunUtility,
        strata: list[_Stratum],
        rng: np.random.Generator,
        control: RidgeControl | None,
        rounds: int,
    ) -> np.ndarray:
        """One unit's credits, in content order; they sum to zero.

        With a control ``V``: the contrasts of ``U − V`` on the drawn coalitions, plus the
        mean contrast of ``V`` over ``rounds`` more draws of the same design."""
        n = run.game.n_players
        credits = np.zeros(n)
        drawn = self._draw(strata, n, rng)
        coalitions = [m for _, members in drawn for m in members]
        utilities = np.array(
            [run(coalition_mask(m), tuple(m.tolist())) for m in coalitions], dtype=np.float64
        )
        self._contrast(credits, drawn, utilities, 1.0)
        if control is None or rounds == 0:
            return credits
        more = [self._draw(strata, n, rng) for _ in range(rounds)]
        values = control(coalitions + [m for drawn in more for _, ms in drawn for m in ms])
        self._contrast(credits, drawn, values[: len(coalitions)], -1.0)
        for k, extra in enumerate(np.split(values[len(coalitions) :], rounds)):
            self._contrast(credits, more[k], extra, 1 / rounds)
        return credits

    def _rounds(self, game: Game, n_units: int) -> int:
        """Draws of the control per unit: ``control_rounds`` while the control's arithmetic
        stays under :data:`CONTROL_FLOPS` for the whole run, fewer (down to none) beyond.
        Fixed by the plan, so every chunk of a run draws the same."""
        if self.control_rounds == 0 or not tracks(game):
            return 0
        per_round = n_units * self.fits_per_unit(game.n_players) * control_flops(game)
        return int(min(self.control_rounds, CONTROL_FLOPS // per_round))

    # --- the chunk protocol -----------------------------------------------------------

    def fit_chunk(
        self,
        train: Dataset | Game,
        valid: Dataset | None = None,
        *,
        baseline: Dataset | None = None,
        start: int,
        stop: int,
    ) -> RowCredits:
        """Do units ``[start, stop)``; sets ``n_utility_evaluations_`` for the chunk."""
        chunk_seed(self.random_state)
        self._check()
        if not 0 <= start <= stop:
            raise ValueError(f"invalid chunk [{start}, {stop})")
        return self._credits(train, valid, baseline, resolve_seed(self.random_state), start, stop)

    def _credits(self, train, valid, baseline, seed: int, start: int, stop: int) -> RowCredits:
        game, order, ties = self._row_game(train, valid, baseline)
        owner_of_row, owner_names = self._owners(train)
        n = game.n_players
        run = RunUtility(game)
        total_gain = run(game.grand_mask) - run(0) if start == 0 else None
        strata = size_strata(n, self.n_strata, self.size_exponent)
        rounds = self._rounds(game, self.n_units(train))
        control = RidgeControl(game) if rounds else None
        report = ProgressReporter(self.progress)
        in_content_order = np.zeros((stop - start, n))
        for u in range(start, stop):
            in_content_order[u - start] = self._unit(
                run, strata, sample_rng(seed, u), control, rounds
            )
            report(
                (u - start + 1) / (stop - start),
                method=self.method_name,
                n_samples=u - start + 1,
                n_evaluations=run.n_evaluations,
            )
        if start == stop:
            report(1.0, method=self.method_name, n_samples=0, n_evaluations=run.n_evaluations)
        if ties[-1] + 1 < n:  # identical rows: each gets the mean of their credits
            sizes = np.bincount(ties)
            for row in in_content_order:
                row[:] = (np.bincount(ties, weights=row) / sizes)[ties]
        credits = np.empty_like(in_content_order)
        credits[:, order] = in_content_order
        credited_rows = None
        if self.copies and not isinstance(train, Game):
            original = _copy_targets(train, owner_of_row, valid)
            credits = np.array([np.bincount(original, weights=row, minlength=n) for row in credits])
            credits = credits.reshape(stop - start, n)
            credited_rows = np.bincount(original, minlength=n)
        # A Game's players are its own owners.
        owner_sums = credits if isinstance(train, Game) else train.player_sums(credits)
        self.n_utility_evaluations_ = run.n_evaluations
        per_unit = (rounds + 1) * len(strata) * self.coalitions_per_stratum if rounds else 0
        self.n_control_evaluations_ = (stop - start) * per_unit
        return RowCredits(
            ValuationResult.from_samples(  # rows are named by position
                credits, None, method=self.method_name, total_gain=total_gain
            ),
            ValuationResult.from_samples(
                owner_sums, owner_names, method=self.method_name, total_gain=total_gain
            ),
            owner_of_row,
            credited_rows,
        )

    def reduce(self, partial: Any) -> ValuationResult:
        """Each owner's total from the merged credits (raises without unit 0's chunk)."""
        if not isinstance(partial, RowCredits) or partial.method != self.method_name:
            raise ValueError(f"{type(self).__name__} reduces RowCredits of {self.method_name!r}")
        return partial.owner_values()

    def fit(self, train: Dataset | Game, valid: Dataset | None = None, *, baseline=None) -> Self:
        """Run every unit and reduce; sets the attributes listed in the class docstring."""
        self._check()
        seed = resolve_seed(self.random_state)
        credits = self._credits(train, valid, baseline, seed, 0, self.n_units(train))
        self.credits_ = credits
        self.result_ = credits.owner_values()
        self.row_result_ = credits.row_values()
        self.seed_ = seed
        return self


def _n_rows(train: Any) -> int:
    if isinstance(train, Game):
        return train.n_players
    if hasattr(train, "n_rows"):
        return int(train.n_rows)
    return int(train.n_players)
