"""TS-DShapley: Shapley values from many small chains with a cheap proxy model, aggregated.

A reconstruction of Schoch, Mishra & Ji (ACL 2023 SRW) following algorithms.md §6.2 (the
authors published no code):

1. **Proxy.** Features become ``φ(x)`` (standardised by default, or a transformer such as
   ``make_pipeline(StandardScaler(), PCA(64))`` over embeddings of the target model), and the
   utility is a cheap model — ``LogisticRegression(max_iter=1000)`` by default — trained on
   ``φ`` and scored on the validation set.
2. **Chains.** The players are split ``coverage`` times into random blocks of about
   ``chain_size`` (a fresh partition each time, dealt class by class so each block keeps the
   class mix when players are rows). Every block is a chain: a subgame over its players
   only, valued by :class:`~valuation.core.methods.permutation.PermutationShapley` with
   ``permutations`` samples. So every player is in exactly ``coverage`` chains.
3. **Aggregation.** A player's value is the mean of its chain values; ``counts`` is the
   number of chains and ``stderr`` their spread over ``√counts``. Values of a size-``s``
   subgame shrink roughly like ``1/s``: compare values across runs only at equal
   ``chain_size``.
4. **Transfer (optional).** Drop the lowest-valued fraction ``r`` of players for each ``r``
   in ``removal_fractions``, refit the proxy on the rest and keep the smallest ``r*`` that
   scores within ``removal_tolerance`` of the best: the removal index to apply when training
   the target model. (Past the last harmful player the curve is a noisy plateau; a small
   tolerance keeps ``r*`` at its start instead of at a random bump.)

Randomness and chunks: the units are chains. Chain ``c`` uses permutation samples
``[c·T, (c+1)·T)`` of the run's seed (``T = permutations``; sample ``j`` draws from
``sample_rng(seed, j)`` as in every sampling method), so a single chain over all players is
exactly ``PermutationShapley(random_state=seed, stop=MaxSamples(T))``. The partitions draw
from the seed's child ``(0, 0)``, a key no sample uses. Any chunking of ``[0, n_chains)``
merges to the result of ``fit``.

A :class:`~valuation.core.game.Game` can be valued directly (its chains are its subgames;
no proxy, no stratification), which makes the closed-form games usable as oracles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal, Self

import numpy as np
from sklearn.base import TransformerMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from valuation.core.chunking import chunk_seed, resolve_seed
from valuation.core.dataset import Dataset
from valuation.core.game import Game, RunUtility, coalition_mask
from valuation.core.methods.base import MergedResult, Valuation
from valuation.core.methods.permutation import PermutationShapley
from valuation.core.progress import ProgressReporter
from valuation.core.result import ValuationResult
from valuation.core.utility import ModelUtility


class _ChainGame(Game):
    """The subgame of ``players``: coalitions of them, valued by the parent run."""

    def __init__(self, run: RunUtility, players: np.ndarray) -> None:
        super().__init__(players.shape[0], run.game.names[players])
        self.run = run
        self.players = players

    def _evaluate(self, players: tuple[int, ...]) -> float:
        return self.run(coalition_mask(self.players[list(players)].tolist()))


@dataclass(frozen=True)
class RemovalCurve:
    """Proxy scores after dropping the lowest-valued players.

    Attributes
    ----------
    fractions : numpy.ndarray
        Fractions of players dropped.
    scores : numpy.ndarray
        Utility of the remaining players (the proxy's validation score) at each fraction.
    best_fraction : float
        The removal index ``r*`` (see ``removal_tolerance``).
    kept : numpy.ndarray
        Players kept at ``best_fraction`` (ascending).
    """

    fractions: np.ndarray
    scores: np.ndarray
    best_fraction: float
    kept: np.ndarray


class TransferredShapley(MergedResult, Valuation):
    """TS-DShapley: chain-wise permutation Shapley with a proxy model (module docstring).

    Parameters
    ----------
    model : scikit-learn estimator, optional
        The proxy; default ``LogisticRegression(max_iter=1000)``.
    scorer : str or callable, optional
        Scorer of the proxy; default accuracy / r2.
    cache : UtilityCache, optional
        Cache of the proxy game (its keys are coalitions of all players).
    transform : "standardize", None or scikit-learn transformer, default "standardize"
        How features become the proxy's inputs: standardised with the training rows'
        statistics, used as given (None), or a transformer cloned and fitted on the training
        rows (e.g. a PCA of supplied embeddings).
    chain_size : int, default 100
        Players per chain (blocks differ by at most one).
    coverage : int, default 3
        Partitions, i.e. chains per player.
    permutations : int, default 50
        Permutation samples per chain.
    truncation : float, optional
        Absolute truncation tolerance of the permutations (see PermutationShapley).
    stratify : bool, default True
        Deal players into blocks class by class (only when players are rows).
    removal_fractions : sequence of float, optional
        Fractions for the removal index; None (default) skips that step in ``fit``.
    removal_tolerance : float, default 0.0
        ``r*`` is the smallest fraction scoring at least ``best − removal_tolerance``
        (0: the first maximum), in the scorer's units.
    random_state : int, optional
        Seed; None draws fresh entropy (recorded in ``seed_``); chunked runs need an int.
    progress : callable, optional
        ``progress(done_fraction, info)``, after every chain.

    Attributes
    ----------
    result_ : ValuationResult
        Mean chain value per player, ``counts`` = chains (= ``coverage``), ``stderr`` over
        chains.
    chains_ : list of numpy.ndarray
        The players of every chain, in unit order.
    removal_curve_ : RemovalCurve or None
    n_utility_evaluations_ : int
        Distinct coalitions evaluated (proxy fits on a cold cache).
    seed_ : int
    """

    method_name: ClassVar[str] = "ts_dshapley"

    def __init__(
        self,
        *,
        model=None,
        scorer=None,
        cache=None,
        transform: Literal["standardize"] | TransformerMixin | None = "standardize",
        chain_size: int = 100,
        coverage: int = 3,
        permutations: int = 50,
        truncation: float | None = None,
        stratify: bool = True,
        removal_fractions=None,
        removal_tolerance: float = 0.0,
        random_state: int | None = None,
        progress=None,
    ) -> None:
        self.model = model
        self.scorer = scorer
        self.cache = cache
        self.transform = transform
        self.chain_size = chain_size
        self.coverage = coverage
        self.permutations = permutations
        self.truncation = truncation
        self.stratify = stratify
        self.removal_fractions = removal_fractions
        self.removal_tolerance = removal_tolerance
        self.random_state = random_state
        self.progress = progress

    def n_units(self, train: Dataset | Game, valid: Dataset | None = None) -> int:
        """Chains: ``coverage × ⌈n_players / chain_size⌉``."""
        self._check()
        return self.coverage * math.ceil(train.n_players / self.chain_size)

    def fit(self, train: Dataset | Game, valid: Dataset | None = None, *, baseline=None) -> Self:
        """Value every chain, aggregate, and (optionally) choose the removal index."""
        self.seed_ = resolve_seed(self.random_state)
        run = RunUtility(self._proxy_game(train, valid, baseline))
        self.result_ = self._chains_result(train, run, 0, self.n_units(train))
        self.removal_curve_ = None
        if self.removal_fractions is not None:
            self.removal_curve_ = self._removal(run, self.result_.values)
        self.n_utility_evaluations_ = run.n_evaluations
        return self

    def fit_chunk(
        self,
        train: Dataset | Game,
        valid: Dataset | None = None,
        *,
        baseline: Dataset | None = None,
        start: int,
        stop: int,
    ) -> ValuationResult:
        """Value chains ``[start, stop)``; partials merge with ``+``. Needs an int seed."""
        self.seed_ = chunk_seed(self.random_state)
        run = RunUtility(self._proxy_game(train, valid, baseline))
        result = self._chains_result(train, run, start, stop)
        self.n_utility_evaluations_ = run.n_evaluations
        return result

    def _finish(self, merged: ValuationResult) -> ValuationResult:
        """The merged chains are the result; every player must be covered."""
        uncovered = np.flatnonzero(merged.counts == 0)
        if uncovered.size:
            raise ValueError(
                f"{uncovered.size} players are in no merged chain (first: {uncovered[:5]}); "
                "a chunk is missing"
            )
        return merged

    def removal_index(
        self,
        train: Dataset | Game,
        valid: Dataset | None = None,
        *,
        baseline: Dataset | None = None,
        values,
    ) -> RemovalCurve:
        """The transfer step on given ``values`` (e.g. a reduced chunked result's).

        Uses ``removal_fractions`` (default ``0, 0.01, …, 0.5``). Sets
        ``n_utility_evaluations_`` to the proxy fits it needed.
        """
        run = RunUtility(self._proxy_game(train, valid, baseline))
        curve = self._removal(run, np.asarray(values, dtype=np.float64))
        self.n_utility_evaluations_ = run.n_evaluations
        return curve

    def _check(self) -> None:
        for name in ("chain_size", "coverage", "permutations"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    def _proxy_game(
        self, train: Dataset | Game, valid: Dataset | None, baseline: Dataset | None
    ) -> Game:
        """The utility the chains split: ``train`` itself, or the proxy on ``φ``."""
        if isinstance(train, Game):
            if valid is not None or baseline is not None:
                raise ValueError("valid and baseline must be None when fitting a Game")
            return train
        if not isinstance(train, Dataset) or not isinstance(valid, Dataset):
            raise ValueError("TransferredShapley values a Dataset against valid, or a Game")
        train.check_features(valid=valid, baseline=baseline)
        X = train.X if baseline is None else np.concatenate([baseline.X, train.X])
        transformer = self._transformer()
        if transformer is not None:
            transformer.fit(X)

        def mapped(data: Dataset | None, **names) -> Dataset | None:
            if data is None:
                return None
            features = data.X if transformer is None else transformer.transform(data.X)
            return Dataset(np.asarray(features), data.y, **names)

        grouping = (
            {}
            if train.groups is None
            else {"groups": train.player_of_row, "group_names": list(train.player_names)}
        )
        model = LogisticRegression(max_iter=1000) if self.model is None else self.model
        return ModelUtility(model, self.scorer, cache=self.cache).bind(
            mapped(train, **grouping), mapped(valid), mapped(baseline)
        )

    def _transformer(self) -> TransformerMixin | None:
        if self.transform is None:
            return None
        return StandardScaler() if self.transform == "standardize" else clone(self.transform)

    def _partitions(self, train: Dataset | Game) -> list[np.ndarray]:
        """Every chain's players (ascending), partition by partition."""
        self._check()
        n = train.n_players
        n_blocks = math.ceil(n / self.chain_size)
        by_row = isinstance(train, Dataset) and train.groups is None and self.stratify
        labels = np.unique(train.y, return_inverse=True)[1].ravel() if by_row else None
        rng = np.random.default_rng(np.random.SeedSequence(entropy=self.seed_, spawn_key=(0, 0)))
        chains = []
        for _ in range(self.coverage):
            order = rng.permutation(n)
            if labels is not None:
                # Grouping the shuffled players by class and dealing them round-robin gives
                # every block each class's share, to within one player.
                order = order[np.argsort(labels[order], kind="stable")]
            block = np.empty(n, dtype=np.int64)
            block[order] = np.arange(n) % n_blocks
            chains.extend(np.flatnonzero(block == b) for b in range(n_blocks))
        return chains

    def _chains_result(
        self, train: Dataset | Game, run: RunUtility, start: int, stop: int
    ) -> ValuationResult:
        """The sum of the chains ``[start, stop)`` as partial results."""
        chains = self._partitions(train)
        if not 0 <= start <= stop <= len(chains):
            raise ValueError(f"chunk [{start}, {stop}) is outside [0, {len(chains)})")
        self.chains_ = chains
        game = run.game
        report = ProgressReporter(self.progress)
        result = ValuationResult.empty(game.names, self.method_name)
        inner = PermutationShapley(random_state=self.seed_, truncation=self.truncation)
        for c in range(start, stop):
            players = chains[c]
            chain = inner.fit_chunk(
                _ChainGame(run, players),
                start=c * self.permutations,
                stop=(c + 1) * self.permutations,
            )
            values = np.zeros(game.n_players)
            counts = np.zeros(game.n_players, dtype=np.int64)
            values[players] = chain.values
            counts[players] = 1
            result = result + ValuationResult(values, counts, game.names, method=self.method_name)
            report(
                (c - start + 1) / (stop - start),
                method=self.method_name,
                n_units_done=c - start + 1,
                n_units=stop - start,
                n_evaluations=run.n_evaluations,
            )
        if start == stop:
            report(1.0, method=self.method_name, n_units_done=0, n_units=0, n_evaluations=0)
        return result

    def _removal(self, run: RunUtility, values: np.ndarray) -> RemovalCurve:
        """Score the proxy without the lowest ``fraction`` of players, for every fraction."""
        game = run.game
        fractions = np.asarray(
            np.linspace(0.0, 0.5, 51) if self.removal_fractions is None else self.removal_fractions,
            dtype=np.float64,
        )
        if values.shape != (game.n_players,):
            raise ValueError(f"values must have one entry per player ({game.n_players})")
        if (
            fractions.ndim != 1
            or not fractions.size
            or (fractions < 0).any()
            or (fractions >= 1).any()
        ):
            raise ValueError("removal_fractions must be a non-empty sequence in [0, 1)")
        # Lowest values first; ties: lower index first.
        order = np.argsort(values, kind="stable")
        scores = np.empty(fractions.shape[0])
        for position, fraction in enumerate(fractions):
            kept = np.sort(order[int(math.floor(fraction * game.n_players + 1e-9)) :])
            scores[position] = run(coalition_mask(kept.tolist()))
        if not self.removal_tolerance >= 0:
            raise ValueError("removal_tolerance must be >= 0")
        best = int(np.flatnonzero(scores >= scores.max() - self.removal_tolerance)[0])
        n_dropped = int(math.floor(fractions[best] * game.n_players + 1e-9))
        return RemovalCurve(fractions, scores, float(fractions[best]), np.sort(order[n_dropped:]))
