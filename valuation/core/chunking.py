"""The chunk protocol: how one valuation is split into independent pieces and folded back.

Every method exposes the same three entry points, so the app (Celery) handles all alike:

``n_units(train_or_game, valid=None) -> int | None``
    How many units of work the method has: coalitions for exact methods (``2**n`` for
    ExactShapley/ExactBanzhaf, ``n + 1`` for LeaveOneOut), validation rows for KNNShapley
    and Influence (which need ``valid``; the others ignore it), None for sampling methods,
    whose units (samples) are unbounded and numbered 0, 1, 2, …
``fit_chunk(train, valid=None, *, baseline=None, start, stop) -> partial``
    Do units ``[start, stop)`` and return a partial: a :class:`UtilityTable` (exact
    methods) or a :class:`~valuation.core.result.ValuationResult` (sampling methods). The
    estimator's stopping rule is ignored: a chunk does exactly its units.
``reduce(partial) -> ValuationResult``
    Turn the merged partial into the answer.

Partials of one job merge with ``+`` in any grouping and order (``sum(partials)`` works) and
serialise with ``to_dict()``; :func:`partial_from_dict` reads either kind back.

Randomness: sample ``j`` draws from its own generator, :func:`sample_rng` ``(seed, j)`` =
``default_rng(SeedSequence(entropy=seed, spawn_key=(j,)))`` — the ``j``-th child of
``SeedSequence(seed).spawn`` — so the samples do not depend on how ``[0, n)`` is cut: any
chunking merges to the result of ``fit`` with ``stop=MaxSamples(n)`` (up to float rounding
of the merge, ~1e-15). Sampling methods therefore need an integer ``random_state`` for
chunked runs.

For sampling methods the app loops: run chunks of samples, merge, and ask the estimator's
``stop`` rule (with :class:`~valuation.core.stopping.RunState`) whether to go on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, Protocol

import numpy as np

from valuation.core.game import mask_players
from valuation.core.result import FORMAT_VERSION, RowCredits, ValuationResult, same_utility

TableKind = Literal["subsets", "leave_one_out"]


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of sample ``index`` of a run seeded with ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(index,)))


def resolve_seed(random_state: int | None) -> int:
    """The run's seed: ``random_state`` itself, or fresh OS entropy when it is None."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(random_state, bool | np.bool_) or not isinstance(random_state, int | np.integer):
        raise ValueError(f"random_state must be a non-negative int or None, not {random_state!r}")
    if random_state < 0:
        raise ValueError(f"random_state must be non-negative, got {random_state}")
    return int(random_state)


def chunk_seed(random_state: int | None) -> int:
    """The seed every chunk of a run shares: ``random_state``, which a chunked run must be
    given (each chunk drawing its own entropy would not add up to one run)."""
    if random_state is None:
        raise ValueError("chunked runs need an integer random_state shared by all chunks")
    return resolve_seed(random_state)


def chunk_ranges(n_units: int, chunk_size: int) -> list[tuple[int, int]]:
    """Cut ``[0, n_units)`` into consecutive ``(start, stop)`` ranges of ``chunk_size``."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    return [(a, min(a + chunk_size, n_units)) for a in range(0, n_units, chunk_size)]


def unit_mask(kind: TableKind, n_players: int, unit: int) -> int:
    """Coalition bit mask of unit ``unit`` of a table of ``kind``.

    ``subsets``: the unit is the mask itself, ``0 .. 2**n - 1``. ``leave_one_out``: unit 0 is
    the grand coalition and unit ``i + 1`` the grand coalition without player ``i``.
    """
    grand = (1 << n_players) - 1
    if kind == "subsets":
        if not 0 <= unit <= grand:
            raise ValueError(f"unit {unit} is not a subset of {n_players} players")
        return unit
    if kind == "leave_one_out":
        if not 0 <= unit <= n_players:
            raise ValueError(f"unit {unit} is outside a leave-one-out table of {n_players}")
        return grand if unit == 0 else grand & ~(1 << (unit - 1))
    raise ValueError(f"unknown table kind {kind!r}")


def table_units(kind: TableKind, n_players: int) -> int:
    """Number of units of a complete table of ``kind``."""
    unit_mask(kind, n_players, 0)  # validates the kind
    return 2**n_players if kind == "subsets" else n_players + 1


class UtilityTable:
    """Utilities of some coalitions of one game, indexed by unit (see :func:`unit_mask`).

    The exact methods' partial: a chunk fills units ``[start, stop)``; tables merge with
    ``+``; a complete ``subsets`` table serves ExactShapley and ExactBanzhaf alike, and
    :meth:`coalition_utilities` hands the cached utilities to pricing.

    Parameters
    ----------
    kind : {"subsets", "leave_one_out"}
        How units map to coalitions.
    names : sequence of str
        Player names.
    utilities : mapping of int to float
        Unit → utility.
    """

    def __init__(
        self, kind: TableKind, names: Sequence[str], utilities: Mapping[int, float]
    ) -> None:
        self.kind = kind
        self.names = np.array([str(name) for name in names], dtype=object)
        self.utilities = {int(unit): float(value) for unit, value in utilities.items()}
        n_units = table_units(kind, self.n_players)
        outside = [unit for unit in self.utilities if not 0 <= unit < n_units]
        if outside:
            raise ValueError(f"units {outside[:5]} are outside this {kind} table")

    @property
    def n_players(self) -> int:
        return int(self.names.shape[0])

    @property
    def n_units(self) -> int:
        """Units of the complete table."""
        return table_units(self.kind, self.n_players)

    def is_complete(self) -> bool:
        """Whether every unit has a utility."""
        return len(self.utilities) == self.n_units

    def missing(self) -> list[int]:
        """Units without a utility, ascending."""
        return [u for u in range(self.n_units) if u not in self.utilities]

    def coalition(self, unit: int) -> tuple[int, ...]:
        """Sorted players of unit ``unit``."""
        return mask_players(unit_mask(self.kind, self.n_players, unit))

    def coalition_utilities(self) -> dict[frozenset[int], float]:
        """Coalition (frozenset of player indices) → utility, for every filled unit."""
        return {frozenset(self.coalition(u)): v for u, v in self.utilities.items()}

    def as_array(self) -> np.ndarray:
        """Utilities of all units in unit order; raises if the table is incomplete."""
        if not self.is_complete():
            gaps = self.missing()
            raise ValueError(f"the table misses {len(gaps)} units (first: {gaps[:5]})")
        return np.array([self.utilities[u] for u in range(self.n_units)])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict that :meth:`from_dict` restores exactly."""
        return {
            "type": "UtilityTable",
            "version": FORMAT_VERSION,
            "kind": self.kind,
            "names": [str(name) for name in self.names],
            "units": [[u, self.utilities[u]] for u in sorted(self.utilities)],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UtilityTable:
        """Rebuild a table from :meth:`to_dict` output."""
        if data.get("type") != "UtilityTable" or data.get("version") != FORMAT_VERSION:
            raise ValueError("not a UtilityTable dict of a known version")
        return cls(data["kind"], data["names"], {int(u): v for u, v in data["units"]})

    def __add__(self, other: UtilityTable) -> UtilityTable:
        """Union of two tables of the same game.

        Shared units must agree (see :func:`~valuation.core.result.same_utility`); the left
        operand's value is kept.
        """
        if not isinstance(other, UtilityTable):
            return NotImplemented
        if self.kind != other.kind or self.names.shape != other.names.shape:
            raise ValueError("cannot merge tables of different kinds or player sets")
        if (self.names != other.names).any():
            raise ValueError("cannot merge tables over different players")
        clashes = [
            u
            for u in self.utilities.keys() & other.utilities.keys()
            if not same_utility(self.utilities[u], other.utilities[u])
        ]
        if clashes:
            raise ValueError(
                f"the tables disagree on units {sorted(clashes)[:5]}: the utility is not "
                "deterministic or they come from different games"
            )
        return UtilityTable(self.kind, self.names, {**other.utilities, **self.utilities})

    def __radd__(self, other: Any) -> UtilityTable:
        # sum(tables) starts from 0.
        if isinstance(other, int) and other == 0:
            return self
        return NotImplemented

    def __repr__(self) -> str:
        return (
            f"UtilityTable(kind={self.kind!r}, n_players={self.n_players}, "
            f"filled={len(self.utilities)}/{self.n_units})"
        )


Partial = ValuationResult | UtilityTable | RowCredits


def partial_from_dict(data: dict[str, Any]) -> Partial:
    """Read back the ``to_dict()`` of any kind of partial."""
    kinds = {
        "ValuationResult": ValuationResult,
        "UtilityTable": UtilityTable,
        "RowCredits": RowCredits,
    }
    if data.get("type") not in kinds:
        raise ValueError(f"unknown partial type {data.get('type')!r}")
    return kinds[data["type"]].from_dict(data)


class ChunkedMethod(Protocol):
    """The three entry points every valuation method offers (see the module docstring)."""

    def n_units(self, train: Any, valid: Any = None) -> int | None: ...

    def fit_chunk(
        self, train: Any, valid: Any = None, *, baseline: Any = None, start: int, stop: int
    ) -> Partial: ...

    def reduce(self, partial: Partial) -> ValuationResult: ...


def fit_chunked(
    method: ChunkedMethod,
    train: Any,
    valid: Any = None,
    *,
    baseline: Any = None,
    chunks: Iterable[tuple[int, int]],
) -> ValuationResult:
    """Run ``method`` chunk by chunk in this process and reduce: the protocol in miniature.

    The app does the same with one Celery task per chunk, persisting each partial.
    """
    partials = [
        method.fit_chunk(train, valid, baseline=baseline, start=start, stop=stop)
        for start, stop in chunks
    ]
    if not partials:
        raise ValueError("fit_chunked needs at least one chunk")
    return method.reduce(sum(partials))
