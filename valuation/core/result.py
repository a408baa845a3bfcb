"""ValuationResult: per-player values with their uncertainty, mergeable and JSON-safe.

A result stores, per player, the number of samples (``counts``), their mean (``values``)
and the sum of squared deviations from that mean (``sum_sq_dev``). Two partial results over
disjoint samples merge exactly with ``+`` (the parallel update of Chan, Golub & LeVeque), so
merging is associative up to float rounding and equals a single pass over all the samples.

``stderr = sqrt(sample variance / count)``, with the unbiased sample variance
``sum_sq_dev / (count - 1)``; it is ``inf`` while a player has fewer than two samples.
Exact methods report ``sum_sq_dev = 0`` and count the utility terms behind each value, so
their ``stderr`` is 0.
"""

from __future__ import annotations

import base64
import math
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Version of the ``to_dict`` layout, stored with the data.
FORMAT_VERSION = 1

#: Version of :meth:`RowCredits.to_dict` (2: per-row arrays packed, rows named by position).
ROW_CREDITS_VERSION = 2

#: Relative tolerance when partials from different workers report the same utility: last-bit
#: float noise between CPUs is accepted, anything larger means different games.
UTILITY_RTOL = 1e-9


def same_utility(a: float, b: float) -> bool:
    """Whether two reports of one coalition's utility agree (see ``UTILITY_RTOL``)."""
    return math.isclose(a, b, rel_tol=UTILITY_RTOL, abs_tol=1e-12)


#: The array types :func:`unpack_array` reads back (little-endian numbers only).
PACKED_DTYPES = frozenset({"<f8", "<i8", "<i4", "|b1"})


def pack_array(array) -> dict[str, Any]:
    """A JSON-safe, exact and compact form of a numeric array: its little-endian bytes,
    deflated (zlib, fastest level) and in base64. A million float64 take about 11 MB of
    text and come back as one array, where a JSON list takes about 20 MB and comes back as a
    million Python floats (32 MB)."""
    array = np.asarray(array)
    dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    if dtype.str not in PACKED_DTYPES:
        raise ValueError(f"cannot pack an array of {array.dtype}")
    raw = np.ascontiguousarray(array, dtype=dtype).tobytes()
    return {
        "dtype": dtype.str,
        "shape": list(array.shape),
        "zlib": base64.b64encode(zlib.compress(raw, 1)).decode("ascii"),
    }


def unpack_array(packed: dict[str, Any]) -> np.ndarray:
    """The array :func:`pack_array` packed (a fresh, writable copy)."""
    dtype = packed.get("dtype")
    if dtype not in PACKED_DTYPES:
        raise ValueError(f"not a packed array of a known type: {dtype!r}")
    shape = tuple(int(n) for n in packed["shape"])
    raw = zlib.decompress(base64.b64decode(packed["zlib"], validate=True))
    if len(raw) != np.dtype(dtype).itemsize * math.prod(shape):
        raise ValueError(f"a packed array of shape {shape} holds {len(raw)} bytes")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


class ValuationResult:
    """Values of the players of one game, as means of samples.

    Parameters
    ----------
    values : array-like of shape (n_players,)
        Mean of each player's samples (0 for a player without samples).
    counts : array-like of int, shape (n_players,)
        Number of samples behind each value.
    names : sequence of str, or None
        Player names; None names them by position (``"0"``, ``"1"``, …), built only when
        read (a million rows' names are about 90 MB of strings).
    sum_sq_dev : array-like of shape (n_players,), optional
        Sum of squared deviations of each player's samples from their mean; default 0.
    method : str
        Name of the method that produced the result.
    total_gain : float, optional
        ``U(all players) − U(∅)`` when the method evaluated both, else None.
    """

    def __init__(
        self,
        values,
        counts,
        names: Sequence[str] | None,
        *,
        sum_sq_dev=None,
        method: str,
        total_gain: float | None = None,
    ) -> None:
        self.values = np.array(values, dtype=np.float64)
        self.counts = np.array(counts, dtype=np.int64)
        self._names = None if names is None else np.array([str(n) for n in names], dtype=object)
        self.sum_sq_dev = (
            np.zeros_like(self.values)
            if sum_sq_dev is None
            else np.array(sum_sq_dev, dtype=np.float64)
        )
        self.method = method
        self.total_gain = None if total_gain is None else float(total_gain)
        n = self.values.shape[0] if self._names is None else self._names.shape[0]
        for label, array in (("values", self.values), ("counts", self.counts)):
            if array.shape != (n,):
                raise ValueError(f"{label} has shape {array.shape}, expected ({n},)")
        if self.sum_sq_dev.shape != (n,):
            raise ValueError(f"sum_sq_dev has shape {self.sum_sq_dev.shape}, expected ({n},)")
        if (self.counts < 0).any() or (self.sum_sq_dev < 0).any():
            raise ValueError("counts and sum_sq_dev must be non-negative")

    @classmethod
    def empty(cls, names: Sequence[str], method: str) -> ValuationResult:
        """A result with no samples: the identity of ``+``."""
        n = len(names)
        return cls(np.zeros(n), np.zeros(n, dtype=np.int64), names, method=method)

    @classmethod
    def from_samples(
        cls,
        samples,
        names: Sequence[str] | None,
        *,
        method: str,
        mask=None,
        total_gain: float | None = None,
    ) -> ValuationResult:
        """Summarise a matrix of samples (one row per sample, one column per player).

        Parameters
        ----------
        samples : array-like of shape (n_samples, n_players)
        mask : array-like of bool, same shape, optional
            Which entries are samples (default: all), for methods where a sample informs
            only some players.
        """
        data = np.asarray(samples, dtype=np.float64)
        if mask is None:  # every entry is a sample: no masked copies of the matrix
            counts = np.full(data.shape[1], data.shape[0], dtype=np.int64)
            means = data.mean(axis=0) if data.shape[0] else np.zeros(data.shape[1])
            sum_sq_dev = np.zeros(data.shape[1])
            step = max(1, (1 << 20) // max(1, data.shape[1]))  # blocks of about 8 MB
            for start in range(0, data.shape[0], step):
                sum_sq_dev += ((data[start : start + step] - means) ** 2).sum(axis=0)
        else:
            taken = np.asarray(mask, bool)
            counts = taken.sum(axis=0)
            sums = np.where(taken, data, 0.0).sum(axis=0)
            means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
            sum_sq_dev = np.where(taken, (data - means) ** 2, 0.0).sum(axis=0)
        return cls(
            means, counts, names, sum_sq_dev=sum_sq_dev, method=method, total_gain=total_gain
        )

    @property
    def n_players(self) -> int:
        return int(self.values.shape[0])

    @property
    def names(self) -> np.ndarray:
        """Player names (object array of str)."""
        if self._names is None:
            self._names = np.array([str(i) for i in range(self.n_players)], dtype=object)
        return self._names

    @property
    def positional(self) -> bool:
        """Whether the players are named by position only (``names=None``)."""
        return self._names is None

    def _same_players(self, other: ValuationResult) -> bool:
        if self.n_players != other.n_players:
            return False
        if self.positional and other.positional:
            return True
        return bool((self.names == other.names).all())

    @property
    def variances(self) -> np.ndarray:
        """Unbiased sample variance of each player's samples (inf below two samples)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.counts > 1, self.sum_sq_dev / (self.counts - 1), np.inf)

    @property
    def stderr(self) -> np.ndarray:
        """Standard error of each value, ``sqrt(variance / count)`` (inf below two samples)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.counts > 1, np.sqrt(self.variances / self.counts), np.inf)

    @property
    def efficiency_gap(self) -> float | None:
        """``Σ values − (U(all) − U(∅))`` when ``total_gain`` is known, else None."""
        if self.total_gain is None:
            return None
        return float(np.sum(self.values) - self.total_gain)

    def ranking(self) -> np.ndarray:
        """Player indices from the highest value to the lowest (ties: lower index first)."""
        return np.lexsort((np.arange(self.n_players), -self.values))

    def top(self, k: int) -> np.ndarray:
        """Indices of the ``k`` most valuable players, best first."""
        return self.ranking()[: max(0, k)]

    def bottom(self, k: int) -> np.ndarray:
        """Indices of the ``k`` least valuable players, worst first."""
        return self.ranking()[::-1][: max(0, k)]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (Python floats and ints) that :meth:`from_dict` restores exactly."""
        return {
            "type": "ValuationResult",
            "version": FORMAT_VERSION,
            "method": self.method,
            "names": [str(name) for name in self.names],
            "values": [float(v) for v in self.values],
            "counts": [int(c) for c in self.counts],
            "sum_sq_dev": [float(s) for s in self.sum_sq_dev],
            "total_gain": self.total_gain,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValuationResult:
        """Rebuild a result from :meth:`to_dict` output."""
        if data.get("type") != "ValuationResult" or data.get("version") != FORMAT_VERSION:
            raise ValueError("not a ValuationResult dict of a known version")
        return cls(
            data["values"],
            data["counts"],
            data["names"],
            sum_sq_dev=data["sum_sq_dev"],
            method=data["method"],
            total_gain=data["total_gain"],
        )

    def __add__(self, other: ValuationResult) -> ValuationResult:
        """Merge two partial results over disjoint samples of the same game and method.

        ``total_gain`` must agree (see :func:`same_utility`); the left operand's is kept.
        """
        if not isinstance(other, ValuationResult):
            return NotImplemented
        if self.method != other.method:
            raise ValueError(f"cannot merge results of {self.method!r} and {other.method!r}")
        if not self._same_players(other):
            raise ValueError("cannot merge results over different players")
        if None not in (self.total_gain, other.total_gain) and not same_utility(
            self.total_gain, other.total_gain
        ):
            raise ValueError(
                "the partial results disagree on U(all) − U(∅): they come from different "
                "games, or the utility is not deterministic"
            )
        counts, values, sum_sq_dev = merge_moments(
            (self.counts, self.values, self.sum_sq_dev),
            (other.counts, other.values, other.sum_sq_dev),
        )
        return ValuationResult(
            values,
            counts,
            self._names if other._names is None else other._names,
            sum_sq_dev=sum_sq_dev,
            method=self.method,
            total_gain=self.total_gain if self.total_gain is not None else other.total_gain,
        )

    def __radd__(self, other: Any) -> ValuationResult:
        # sum(partials) starts from 0; treat it as the empty result.
        if isinstance(other, int) and other == 0:
            return self
        return NotImplemented

    def __len__(self) -> int:
        return self.n_players

    def __repr__(self) -> str:
        return (
            f"ValuationResult(method={self.method!r}, n_players={self.n_players}, "
            f"min_count={int(self.counts.min())})"
        )


def merge_moments(
    a: tuple[np.ndarray, np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge (count, mean, sum of squared deviations) of two disjoint sample sets.

    The parallel update of Chan, Golub & LeVeque: with ``n = n_a + n_b`` and
    ``δ = mean_b − mean_a``, ``mean = mean_a + δ n_b / n`` and
    ``M2 = M2_a + M2_b + δ² n_a n_b / n``. Works elementwise; empty sides are neutral.
    """
    n_a, mean_a, m2_a = a
    n_b, mean_b, m2_b = b
    n = n_a + n_b
    delta = mean_b - mean_a
    filled = n > 0
    share_b = np.divide(n_b, n, out=np.zeros(n.shape), where=filled)
    mean = mean_a + delta * share_b
    m2 = m2_a + m2_b + delta * delta * n_a * share_b
    return n, np.where(filled, mean, 0.0), np.where(filled, m2, 0.0)


class RowCredits:
    """What a row-level valuation has measured so far: each row's credit and each owner's sum.

    The partial of :class:`~valuation.core.methods.rows.RowShapley` (and the record it is
    reduced from). Its units are independent draws; unit ``u`` gives every row a credit
    ``c_{u,i}`` computed without knowing who owns the row, and the owners' sums
    ``Σ_{i ∈ G} c_{u,i}`` are taken afterwards, so an owner's error bar comes from how its
    own sum varies between units. Credits here are the sampled part only; the constant
    share ``(U(all) − U(∅)) / n_rows`` of every row is added by :meth:`row_values` and
    :meth:`owner_values`.

    Parameters
    ----------
    rows : ValuationResult
        Per row, the samples ``c_{u,i}`` (count = units, mean, sum of squared deviations).
    owners : ValuationResult
        Per owner, the samples ``Σ_{i ∈ G} c_{u,i}``.
    owner_of_row : array-like of int
        Each row's owner index into ``owners``.
    credited_rows : array-like of int, optional
        How many rows' constant shares each row receives: 1 by default, 0 for a row whose
        credit goes to another (a copy), and 1 + its copies for that original.
    """

    def __init__(
        self, rows: ValuationResult, owners: ValuationResult, owner_of_row, credited_rows=None
    ) -> None:
        self.rows = rows
        self.owners = owners
        self.owner_of_row = np.array(owner_of_row, dtype=np.int64)
        if self.owner_of_row.shape != (rows.n_players,):
            raise ValueError("owner_of_row needs one owner per row")
        self.credited_rows = (
            np.ones(rows.n_players, dtype=np.int64)
            if credited_rows is None
            else np.array(credited_rows, dtype=np.int64)
        )
        if self.credited_rows.shape != (rows.n_players,) or self.credited_rows.sum() != (
            rows.n_players
        ):
            raise ValueError("credited_rows must give out every row's constant share once")
        if self.owner_of_row.size and not (
            self.owner_of_row.min() >= 0 and self.owner_of_row.max() < owners.n_players
        ):
            raise ValueError("owner_of_row names an owner that is not in owners")
        if rows.method != owners.method:
            raise ValueError("rows and owners come from different methods")

    @property
    def method(self) -> str:
        return self.rows.method

    @property
    def n_units(self) -> int:
        """Units merged so far."""
        return int(self.owners.counts.max()) if self.owners.n_players else 0

    @property
    def total_gain(self) -> float | None:
        """``U(all rows) − U(∅)``, once the chunk holding unit 0 is in."""
        return self.rows.total_gain

    def _shifted(self, result: ValuationResult, rows_each: np.ndarray) -> ValuationResult:
        if self.total_gain is None:
            raise ValueError("the credits lack U(all) − U(∅): the chunk with unit 0 is missing")
        share = self.total_gain / self.rows.n_players
        return ValuationResult(
            result.values + share * rows_each,
            result.counts,
            result.names,
            sum_sq_dev=result.sum_sq_dev,
            method=result.method,
            total_gain=self.total_gain,
        )

    def row_values(self) -> ValuationResult:
        """Each row's estimated Shapley value in the row game, with its error."""
        return self._shifted(self.rows, self.credited_rows.astype(np.float64))

    def owner_values(self) -> ValuationResult:
        """Each owner's total: the sum of its rows' values, with the error of that sum."""
        sizes = np.bincount(
            self.owner_of_row, weights=self.credited_rows, minlength=self.owners.n_players
        )
        return self._shifted(self.owners, sizes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict that :meth:`from_dict` restores exactly. The per-row arrays are
        packed (:func:`pack_array`): a million rows' credits are tens of MB as JSON lists
        and hundreds of MB once read back as Python numbers."""
        return {
            "type": "RowCredits",
            "version": ROW_CREDITS_VERSION,
            "method": self.method,
            "total_gain": self.total_gain,
            "rows": {
                "values": pack_array(self.rows.values),
                "counts": pack_array(self.rows.counts),
                "sum_sq_dev": pack_array(self.rows.sum_sq_dev),
            },
            "owners": self.owners.to_dict(),
            "owner_of_row": pack_array(self.owner_of_row),
            "credited_rows": pack_array(self.credited_rows),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RowCredits:
        """Rebuild from :meth:`to_dict` output (or from version 1's lists, which chunks
        stored before an upgrade still hold)."""
        if data.get("type") != "RowCredits" or data.get("version") not in (1, ROW_CREDITS_VERSION):
            raise ValueError("not a RowCredits dict of a known version")
        if data["version"] == 1:
            return cls(
                ValuationResult.from_dict(data["rows"]),
                ValuationResult.from_dict(data["owners"]),
                data["owner_of_row"],
                data["credited_rows"],
            )
        rows = data["rows"]
        return cls(
            ValuationResult(
                unpack_array(rows["values"]),
                unpack_array(rows["counts"]),
                None,
                sum_sq_dev=unpack_array(rows["sum_sq_dev"]),
                method=data["method"],
                total_gain=data["total_gain"],
            ),
            ValuationResult.from_dict(data["owners"]),
            unpack_array(data["owner_of_row"]),
            unpack_array(data["credited_rows"]),
        )

    def __add__(self, other: RowCredits) -> RowCredits:
        """Merge the credits of disjoint units of the same row game and owners."""
        if not isinstance(other, RowCredits):
            return NotImplemented
        if not np.array_equal(self.owner_of_row, other.owner_of_row) or not np.array_equal(
            self.credited_rows, other.credited_rows
        ):
            raise ValueError("cannot merge row credits of different owners")
        return RowCredits(
            self.rows + other.rows,
            self.owners + other.owners,
            self.owner_of_row,
            self.credited_rows,
        )

    def __radd__(self, other: Any) -> RowCredits:
        if isinstance(other, int) and other == 0:
            return self
        return NotImplemented

    def __repr__(self) -> str:
        return (
            f"RowCredits(n_rows={self.rows.n_players}, n_owners={self.owners.n_players}, "
            f"n_units={self.n_units})"
        )
