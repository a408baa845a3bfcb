"""KNN-Shapley: exact Shapley values of the unweighted k-NN utility, vectorised (Jia et al. 2019).

For one validation point the training rows are ranked by distance, ``α_1`` (nearest) to
``α_N``, and the utility of a coalition ``S`` is read off its ``k`` nearest rows:

* classification: the fraction of the ``k`` slots holding the validation label,
  ``U(S) = (1/k) Σ_{j ≤ min(k, |S|)} 1[y_{α_j(S)} = y_t]``, so ``U(∅) = 0`` and the
  denominator stays ``k`` when ``|S| < k`` (it is not majority-vote accuracy);
* regression: ``U(S) = −((1/k) Σ_{j ≤ min(k, |S|)} y_{α_j(S)} − t)²``, the formula applied
  as written, so ``U(∅) = −t²``. The other common convention, ``U(∅) = 0``, shifts every
  row's value by ``−mean(t²)/N`` and changes no ranking.

The utility of the whole validation set is the mean over its points, so by linearity a
row's value is the mean of its per-point values. Per point, with ``a_i = 1[y_{α_i} = y_t]``,

    s_{α_i} = a_i / max(i, k) − Σ_{j = max(i, k) + 1}^{N} a_j / (j (j − 1)),

one reverse cumulative sum (valid for ``N < k`` too); the regression values follow the
recursion of algorithms.md §2.4, again one pass of prefix and suffix sums.

Ties: distances are squared Euclidean distances computed in float64 as
``‖a‖² + ‖b‖² − 2a·b`` (BLAS), clipped at 0; rows at equal computed distance are ranked by
their training index, lower first, as a k-NN classifier with a stable sort would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal, Self

import numpy as np
from scipy.linalg.blas import dgemm
from scipy.special import digamma
from threadpoolctl import threadpool_limits

from valuation.core.dataset import Dataset
from valuation.core.methods.base import RowValuation
from valuation.core.progress import ProgressCallback, ProgressReporter
from valuation.core.result import ValuationResult

Task = Literal["classification", "regression"]
Metric = Literal["euclidean", "cosine"]

#: Most working memory of one batch of validation rows when ``batch_size`` is None.
BATCH_BYTES = 256 * 2**20
#: Distances ranked per batch on the exact path: small enough to sort in cache.
_SORT_CELLS = 2**19
#: Bytes held per (validation row, training row) cell while a batch is ranked and valued.
_CELL_BYTES = 48
#: Distances per tile when truncating: a (batch × training rows) tile stays in cache.
_TILE_CELLS = 2**18
#: Most validation rows per batch (larger batches only add memory).
_MAX_BATCH = 512


class KNNShapley(RowValuation):
    """Exact Shapley values of the unweighted k-NN utility, for classification or regression.

    Parameters
    ----------
    k : int, default 5
        Number of neighbours of the k-NN model being valued.
    task : {"classification", "regression"}, default "classification"
        Which utility (see the module docstring). Regression labels must be numeric.
    metric : {"euclidean", "cosine"}, default "euclidean"
        Distance between feature vectors. "cosine" ranks by the Euclidean distance of the
        L2-normalised vectors, which orders rows as the cosine distance does; rows of zero
        norm are refused.
    truncation : int or None, default None
        None computes exact values. An integer ``K* ≥ k`` makes each validation point see
        only its ``K*`` nearest training rows: the values are then the exact Shapley values
        of that restricted game (rows further away get 0 from that point), efficiency
        still holds, and each value is within ``truncation_error_bound_`` of the exact
        one (below ``1/K*``). Classification only. Needs ``O(N)`` per validation point
        instead of a full sort; use it when ``N`` is very large.
    batch_size : int or None, default None
        Validation rows valued together. None picks a cache-friendly number (about
        ``2**19 / N`` rows, at least 4, exact; up to 512 truncated) within 256 MiB of
        working memory.
    progress : callable, optional
        ``progress(done_fraction, info)`` after every batch (see
        :mod:`~valuation.core.progress`).

    Attributes
    ----------
    result_ : ValuationResult
        One value per player of ``train``. Players are rows, or groups: a group's value is
        the **sum of its rows' values** (the rows' Shapley values added up, not the Shapley
        value of the game whose players are the groups). ``counts`` is the number of
        validation points and ``stderr`` the standard error of the mean over validation
        points: how much the value would move with another validation sample of the same
        size. The values themselves are exact for the validation set given.
    n_utility_evaluations_ : int
        Model fits used: 0, the values come in closed form.
    truncation_error_bound_ : numpy.ndarray of shape (n_players,)
        Largest possible ``|value − exact value|`` of each player (0 when exact).
    train_, valid_ : Dataset
        The data of the last ``fit``, kept for :meth:`point_values`.

    Notes
    -----
    The chunk protocol (:mod:`~valuation.core.chunking`) cuts the validation rows: a unit is
    one validation row (so :meth:`n_units` takes ``valid`` too), a chunk's partial is a
    :class:`ValuationResult` whose samples are the per-point values of its rows, and ``+``
    merges chunks into the result of ``fit`` (up to float rounding). A run uses one core
    (BLAS is held to one thread): parallelism comes from running chunks side by side, as
    the app's workers do.
    """

    method_name: ClassVar[str] = "knn-shapley"

    def __init__(
        self,
        *,
        k: int = 5,
        task: Task = "classification",
        metric: Metric = "euclidean",
        truncation: int | None = None,
        batch_size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.k = k
        self.task = task
        self.metric = metric
        self.truncation = truncation
        self.batch_size = batch_size
        self.progress = progress

    def fit(self, train: Dataset, valid: Dataset | None = None, *, baseline=None) -> Self:
        """Value the players of ``train`` on ``valid``.

        Parameters
        ----------
        train : Dataset
            Training rows; its players are valued.
        valid : Dataset
            Validation rows (their groups are ignored). Required.
        baseline : None
            Must be None: rows that are always present would change the closed form.

        Returns
        -------
        self
        """
        super().fit(train, valid, baseline=baseline)
        self.train_, self.valid_ = train, valid
        return self

    def n_units(self, train: Dataset, valid: Dataset | None = None) -> int:
        """Units of work: the validation rows (so ``valid`` is needed)."""
        if not isinstance(valid, Dataset):
            raise ValueError("KNNShapley's units are validation rows: pass valid")
        return valid.n_rows

    def point_values(self, valid_indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Per-validation-point values: which players drove the prediction of each row.

        Parameters
        ----------
        valid_indices : sequence of int
            Rows of the ``valid`` Dataset of the last :meth:`fit`.

        Returns
        -------
        numpy.ndarray of shape (len(valid_indices), n_players)
            Row ``r`` holds every player's Shapley value for the utility of validation row
            ``valid_indices[r]`` alone; the mean over all validation rows is
            ``result_.values``, and each row sums to that point's ``U(all) − U(∅)``.
        """
        if not hasattr(self, "result_"):
            raise ValueError("call fit before point_values")
        problem = self._problem(self.train_, self.valid_, None, chunked=False)
        rows = np.asarray(valid_indices, dtype=np.int64).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= problem.n_valid):
            raise ValueError(f"valid_indices must lie in [0, {problem.n_valid})")
        out = np.empty((rows.size, problem.n_players))
        step = problem.batch_rows(self.batch_size)
        with threadpool_limits(limits=1, user_api="blas"):
            for begin in range(0, rows.size, step):
                batch = rows[begin : begin + step]
                order, values = problem.rank_and_value(batch)
                out[begin : begin + batch.size] = problem.per_point(order, values)
        return out

    def _problem(
        self, train: Dataset, valid: Dataset | None, baseline: Any, *, chunked: bool
    ) -> _Problem:
        if not isinstance(train, Dataset):
            raise ValueError(f"train must be a Dataset, not {type(train).__name__}")
        if not isinstance(valid, Dataset):
            raise ValueError("KNNShapley needs validation data: pass valid (a Dataset)")
        if baseline is not None:
            raise ValueError(
                "KNNShapley takes no baseline: rows that are always present change the "
                "closed form; value baseline ∪ train with a generic method instead"
            )
        train.check_features(valid=valid)
        if isinstance(self.k, bool) or not isinstance(self.k, int | np.integer) or self.k < 1:
            raise ValueError(f"k must be a positive int, got {self.k!r}")
        if self.task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', not {self.task!r}")
        if self.metric not in ("euclidean", "cosine"):
            raise ValueError(f"metric must be 'euclidean' or 'cosine', not {self.metric!r}")
        if self.truncation is not None:
            if self.task != "classification":
                raise ValueError("truncation has a stated error bound for classification only")
            if (
                isinstance(self.truncation, bool)
                or not isinstance(self.truncation, int | np.integer)
                or self.truncation < self.k
            ):
                raise ValueError(f"truncation must be an int ≥ k={self.k}, or None")
        if self.batch_size is not None and (
            not isinstance(self.batch_size, int | np.integer) or self.batch_size < 1
        ):
            raise ValueError(f"batch_size must be a positive int or None, got {self.batch_size}")
        return _Problem(train, valid, self.task, self.metric, int(self.k), self.truncation)

    def _partial(self, problem: _Problem, start: int, stop: int) -> ValuationResult:
        """Per-player sums of the per-point values of validation rows [start, stop).

        Also sets ``truncation_error_bound_`` and ``n_utility_evaluations_`` (0).
        """
        self.n_utility_evaluations_ = 0
        self.truncation_error_bound_ = problem.error_bound()
        n = stop - start
        report = ProgressReporter(self.progress)
        if n == 0:
            report(1.0, method=self.method_name, n_units_done=0, n_units=0, n_evaluations=0)
            return ValuationResult.empty(problem.names, self.method_name)
        sums = np.zeros(problem.n_players)
        squares = np.zeros(problem.n_players)
        step = problem.batch_rows(self.batch_size)
        # One core per run (see the class notes): small BLAS calls stall when their threads
        # wait for each other on a busy machine.
        with threadpool_limits(limits=1, user_api="blas"):
            for begin in range(start, stop, step):
                batch = np.arange(begin, min(begin + step, stop))
                order, values = problem.rank_and_value(batch)
                batch_sums, batch_squares = problem.player_sums(order, values)
                sums += batch_sums
                squares += batch_squares
                done = int(batch[-1]) + 1 - start
                report(
                    done / n,
                    method=self.method_name,
                    n_units_done=done,
                    n_units=n,
                    n_evaluations=0,
                )
        means = sums / n
        # Σ(s − mean)² = Σs² − n·mean²; clipped because rounding can dip below 0.
        sum_sq_dev = np.maximum(squares - sums * means, 0.0)
        return ValuationResult(
            means,
            np.full(problem.n_players, n),
            problem.names,
            sum_sq_dev=sum_sq_dev,
            method=self.method_name,
        )


class _Problem:
    """One valuation's data, prepared once: features, encoded labels, norms, players."""

    def __init__(
        self,
        train: Dataset,
        valid: Dataset,
        task: Task,
        metric: Metric,
        k: int,
        truncation: int | None,
    ) -> None:
        self.k = k
        self.task = task
        self.n_train = train.n_rows
        self.n_valid = valid.n_rows
        self.keep = self.n_train if truncation is None else min(int(truncation), self.n_train)
        self.X_train = _features(train.X, metric, "train")
        self.X_valid = _features(valid.X, metric, "valid")
        self.norms_train = np.einsum("ij,ij->i", self.X_train, self.X_train)
        self.norms_valid = np.einsum("ij,ij->i", self.X_valid, self.X_valid)
        if task == "classification":
            labels, codes = np.unique(np.concatenate([train.y, valid.y]), return_inverse=True)
            # The smallest integer type keeps the per-rank label gather cheap.
            codes = codes.ravel().astype(np.min_scalar_type(labels.shape[0]))
            self.y_train = codes[: self.n_train]
            self.y_valid = codes[self.n_train :]
        else:
            self.y_train = _numeric_labels(train.y, "train")
            self.y_valid = _numeric_labels(valid.y, "valid")
        self.train = train
        self.grouped = train.groups is not None
        self.names = train.player_names
        self.n_players = train.n_players

    def batch_rows(self, batch_size: int | None) -> int:
        """Validation rows per batch: ``batch_size``, or as many as keep the work in cache.

        Exact: about :data:`_SORT_CELLS` distances per batch (a few rows at least, so the
        training features are not streamed from memory for every single row). Truncated:
        a batch's threshold sample and survivors. Either way within :data:`BATCH_BYTES`.
        """
        if batch_size is not None:
            return int(batch_size)
        if self.keep < self.n_train:
            width = self.sample_size() + 4 * self.keep
            wanted = _MAX_BATCH
        else:
            width = self.n_train
            wanted = max(4, _SORT_CELLS // self.n_train)
        width = max(width, self.n_players if self.grouped else 1)
        fitting = BATCH_BYTES // (_CELL_BYTES * width)
        return int(max(1, min(self.n_valid, wanted, fitting)))

    def sample_size(self) -> int:
        """Training rows sampled to set each point's distance threshold when truncating.

        The 32nd nearest of ``16 N / K*`` evenly spaced rows lies, on average, at the
        ``2 K*``-th nearest of all rows, and below the ``K*``-th only with probability
        ~1e-4 (such points are redone exactly). Small ``K*`` samples every row.
        """
        return min(self.n_train, -(-16 * self.n_train // self.keep))

    def rank_and_value(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest training rows of each validation row in ``batch`` and their values.

        Returns ``order`` (batch × keep, training indices nearest first) and ``values``
        (same shape, the per-point Shapley value of ``order[r, i]``).
        """
        if self.keep < self.n_train:
            order = self._nearest(batch)
        else:
            dist = self._distances(batch, slice(None))
            order = _full_order(np.maximum(dist, 0.0, out=dist))
        labels = np.take(self.y_train, order)
        if self.task == "classification":
            return order, classification_values(labels == self.y_valid[batch, None], self.k)
        return order, regression_values(labels, self.y_valid[batch], self.k)

    def player_sums(self, order: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-player Σ over the batch's points of the point value, and of its square."""
        if not self.grouped:
            # Each training row appears at most once per validation row: no per-point sum.
            flat = order.ravel()
            sums = self.train.player_sums(values.ravel(), rows=flat)
            squares = self.train.player_sums(np.square(values).ravel(), rows=flat)
            return sums, squares
        per_point = self.per_point(order, values)
        return per_point.sum(axis=0), np.square(per_point).sum(axis=0)

    def per_point(self, order: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Dense (batch × n_players) per-point values, rows summed into their groups."""
        return self.train.player_sums(values, rows=order)

    def error_bound(self) -> np.ndarray:
        """Largest ``|truncated − exact|`` per player (see :meth:`KNNShapley.fit`).

        Per validation point and row: ranks ``i ≤ K*`` miss the tail
        ``Σ_{j>K*} a_j/(j(j−1)) ≤ 1/K* − 1/N``; ranks ``i > K*`` get 0 instead of a value of
        size at most ``1/i ≤ 1/(K*+1)``. A group adds at most its size times that, and never
        more than the whole point's error, ``(1 − K*/N) + H_N − H_{K*}``. Means over
        validation points keep the bounds.
        """
        n, kept = self.n_train, self.keep
        if kept >= n:
            return np.zeros(self.n_players)
        per_row = max(1.0 / kept - 1.0 / n, 1.0 / (kept + 1))
        if not self.grouped:
            return np.full(self.n_players, per_row)
        harmonic_tail = float(digamma(n + 1) - digamma(kept + 1))
        whole_point = (1.0 - kept / n) + harmonic_tail
        return np.minimum(self.train.player_sizes * per_row, whole_point)

    def _distances(self, batch: np.ndarray, rows: slice | np.ndarray) -> np.ndarray:
        """Squared distances (batch × rows), ``‖a‖² + ‖b‖² − 2a·b`` in float64, not clipped.

        One BLAS call adds ``−2a·b`` to the norms in place: the C-ordered (batch × rows)
        result is the Fortran-ordered (rows × batch) matrix that dgemm updates.
        """
        dist = self.norms_valid[batch, None] + self.norms_train[None, rows]
        train, valid = self.X_train[rows], self.X_valid[batch]
        return dgemm(-2.0, train.T, valid.T, beta=1.0, c=dist.T, trans_a=1, overwrite_c=1).T

    def _nearest(self, batch: np.ndarray) -> np.ndarray:
        """The ``keep`` nearest training rows of each batch row, nearest first.

        Training rows are scanned in cache-sized tiles and only rows within a per-point
        threshold survive (one comparison per distance, no selection); the threshold comes
        from a sample (:meth:`sample_size`). A point left with fewer than ``keep``
        survivors is ranked again over all rows, so the answer never depends on the sample.
        """
        m = self.keep
        threshold = self._threshold(batch)[:, None]
        tile = max(1, _TILE_CELLS // batch.size)
        cap = 8 * m * batch.size
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        n_found = 0
        for begin in range(0, self.n_train, tile):
            dist = self._distances(batch, slice(begin, min(begin + tile, self.n_train)))
            # Clipping at 0 cannot move a distance across a threshold ≥ 0: clip survivors only.
            row, col = np.nonzero(dist <= threshold)
            found.append((row, col + begin, np.maximum(dist[row, col], 0.0)))
            n_found += row.size
            if n_found > cap:  # many tied distances: keep only each point's best so far
                found = [_entries(*_best_per_row(*map(np.concatenate, zip(*found)), batch.size, m))]
                n_found = found[0][0].size
        order, _, counts = _best_per_row(*map(np.concatenate, zip(*found)), batch.size, m)
        for r in np.flatnonzero(counts < m):
            dist = np.maximum(self._distances(batch[r : r + 1], slice(None))[0], 0.0)
            order[r] = np.lexsort((np.arange(self.n_train), dist))[:m]
        return order

    def _threshold(self, batch: np.ndarray) -> np.ndarray:
        """Per batch row, a distance that about ``2 keep`` training rows do not exceed."""
        size = self.sample_size()
        if size >= self.n_train:
            sample, rank = slice(None), self.keep  # exact: the keep-th nearest itself
        else:
            sample, rank = np.arange(size) * self.n_train // size, min(size, 32)
        dist = np.maximum(self._distances(batch, sample), 0.0)
        return np.partition(dist, rank - 1, axis=1)[:, rank - 1]


def classification_values(matches: np.ndarray, k: int) -> np.ndarray:
    """Per-point KNN-Shapley values from the label matches in rank order.

    Parameters
    ----------
    matches : numpy.ndarray of bool, shape (n_points, n)
        ``matches[t, i]`` is whether the ``(i+1)``-th nearest row has the label of point
        ``t``. With ``n`` smaller than the training set (truncation) this is the game in
        which point ``t`` sees only those ``n`` rows.
    k : int
        Number of neighbours.

    Returns
    -------
    numpy.ndarray of shape (n_points, n)
        ``s_i = a_i / max(i, k) − Σ_{j > max(i, k)} a_j / (j (j − 1))`` (1-based ranks).
    """
    n = matches.shape[1]
    rank = np.arange(1, n + 1, dtype=np.float64)
    weights = np.zeros(n)
    weights[1:] = 1.0 / (rank[1:] * (rank[1:] - 1.0))
    # from_end[:, q] = Σ of a_j w_j over the last q + 1 ranks (a reverse cumulative sum).
    from_end = np.cumsum(matches[:, ::-1] * weights[::-1], axis=1)
    values = matches * (1.0 / np.maximum(rank, k))
    if n > k:
        # Rank i ≥ k (0-based column i−1) loses the ranks after it: the last n − i.
        values[:, k - 1 : n - 1] -= from_end[:, n - k - 1 :: -1]
        # Ranks i < k all lose the ranks after k.
        values[:, : k - 1] -= from_end[:, n - k - 1 : n - k]
    return values


def regression_values(y_sorted: np.ndarray, targets: np.ndarray, k: int) -> np.ndarray:
    """Per-point KNN-Shapley values of the regression utility (``U(∅) = −t²``).

    Parameters
    ----------
    y_sorted : numpy.ndarray of shape (n_points, n)
        Training labels in rank order (nearest first) for each validation point.
    targets : numpy.ndarray of shape (n_points,)
        Validation labels ``t``.
    k : int
        Number of neighbours.

    Returns
    -------
    numpy.ndarray of shape (n_points, n)
        Values in rank order, from ``s_N`` and the differences ``s_i − s_{i+1}`` of
        algorithms.md §2.4 (Jia et al. 2019, Thm 2), each a sum of prefix and suffix sums.
    """
    n = y_sorted.shape[1]
    t = np.asarray(targets, dtype=np.float64)[:, None]
    y = y_sorted
    rank = np.arange(1, n + 1, dtype=np.float64)
    kk = float(k)
    near = np.minimum(kk, rank) / rank  # min(k, i) / i
    pair = np.zeros(n)  # min(k, i) min(k−1, i−1) / (k i (i−1)); 0 at i = 1
    pair[1:] = (
        np.minimum(kk, rank[1:])
        * np.minimum(kk - 1.0, rank[1:] - 1.0)
        / (kk * rank[1:] * (rank[1:] - 1.0))
    )
    before = np.cumsum(y, axis=1) - y  # Σ_{l < i} y_l
    # suffix[:, j] = Σ_{l ≥ j} pair[l−1] y_l (0-based, pair shifted: w_l = pair_{l−1}).
    weighted = np.zeros_like(y)
    weighted[:, 1:] = pair[:-1] * y[:, 1:]
    suffix = np.zeros((y.shape[0], n + 2))
    np.cumsum(weighted[:, ::-1], axis=1, out=suffix[:, n - 1 :: -1])
    values = np.empty_like(y)
    values[:, -1] = -(y[:, -1] / kk) * (
        near[-1] * (y[:, -1] / kk - 2.0 * t[:, 0]) + pair[-1] * before[:, -1]
    )
    if n > 1:
        lower, upper = y[:, :-1], y[:, 1:]
        steps = ((upper - lower) / kk) * (
            near[:-1] * ((lower + upper) / kk - 2.0 * t)
            + pair[:-1] * before[:, :-1]
            + suffix[:, 2 : n + 1]
        )
        # s_i = s_N + Σ_{m = i}^{N−1} (s_m − s_{m+1}).
        values[:, :-1] = np.cumsum(steps[:, ::-1], axis=1)[:, ::-1]
        values[:, :-1] += values[:, -1:]
    return values


def _full_order(dist: np.ndarray) -> np.ndarray:
    """Every column per row, nearest first, equal distances by column (index).

    A two-pass radix sort: each row's distances are mapped monotonically onto 32-bit keys
    over the row's range, sorted by the low then the high 16 bits (numpy's stable sort of
    16-bit keys is a radix sort, linear time), which leaves equal distances in index order.
    Distances that differ but share a key (~2⁻³² of the range apart) may come out of order;
    the few rows where that happened are finished by a stable sort of their nearly sorted
    distances.
    """
    lowest = dist.min(axis=1, keepdims=True)
    span = dist.max(axis=1, keepdims=True) - lowest
    # Slightly under 2³² − 1, so rounding at the top of the range cannot overflow the key.
    scale = 4294967040.0 / np.where(span > 0, span, 1.0)
    key = np.empty(dist.shape, dtype=np.uint32)
    np.multiply(dist - lowest, scale, out=key, casting="unsafe")
    # Flat indices (row offset added) make the gathers cheap on wide rows.
    offset = np.arange(0, dist.size, dist.shape[1])[:, None]
    by_low = np.argsort(key.view(np.uint16)[:, 0::2], axis=1, kind="stable")  # little-endian
    by_low += offset
    by_high = np.argsort(np.take(key, by_low).view(np.uint16)[:, 1::2], axis=1, kind="stable")
    by_high += offset
    order = np.take(by_low, by_high)
    ranked = np.take(dist, order)
    order -= offset
    unsorted = np.flatnonzero((ranked[:, 1:] < ranked[:, :-1]).any(axis=1))
    if unsorted.size:
        fix = np.argsort(ranked[unsorted], axis=1, kind="stable")
        order[unsorted] = np.take_along_axis(order[unsorted], fix, axis=1)
    return order


def _padded_order(dist: np.ndarray) -> np.ndarray:
    """Per row, column order by (distance, column) for rows padded at the end with ``inf``.

    An unstable sort, redone with a stable one on the rows where equal finite distances
    turn up (the stable sort keeps equal distances in column order).
    """
    order = np.argsort(dist, axis=1)
    ranked = np.take_along_axis(dist, order, axis=1)
    tied = (ranked[:, 1:] == ranked[:, :-1]) & (ranked[:, 1:] < np.inf)
    rows = np.flatnonzero(tied.any(axis=1))
    if rows.size:
        order[rows] = np.argsort(dist[rows], axis=1, kind="stable")
    return order


def _best_per_row(
    row: np.ndarray, col: np.ndarray, dist: np.ndarray, n_rows: int, m: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's (at most) ``m`` entries smallest by (dist, col), from (row, col, dist) triples.

    Entries of one row must come in ascending ``col`` wherever their distances are equal.
    Returns ``cols`` and ``dists`` (n_rows × m, nearest first; past a row's count, −1 and
    inf) and each row's count of entries (which may exceed ``m``).
    """
    # Group by row, keeping the col order within a row (a radix sort for small row ids).
    grouped = np.argsort(row.astype(np.min_scalar_type(n_rows)), kind="stable")
    row, col, dist = row[grouped], col[grouped], dist[grouped]
    counts = np.bincount(row, minlength=n_rows)
    position = np.arange(row.size) - np.repeat(np.cumsum(counts) - counts, counts)
    width = max(m, int(counts.max(initial=0)))
    padded = np.full((n_rows, width), np.inf)
    padded[row, position] = dist
    cols = np.full((n_rows, width), -1, dtype=np.int64)
    cols[row, position] = col
    order = _padded_order(padded)[:, :m]
    return (
        np.take_along_axis(cols, order, axis=1),
        np.take_along_axis(padded, order, axis=1),
        counts,
    )


def _entries(
    cols: np.ndarray, dists: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, col, dist) triples back from :func:`_best_per_row`'s padded output."""
    row, position = np.nonzero(np.arange(cols.shape[1]) < counts[:, None])
    return row, cols[row, position], dists[row, position]


def _features(X: np.ndarray, metric: Metric, label: str) -> np.ndarray:
    """Features as used for distances: as given, or L2-normalised for cosine."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    if metric == "euclidean":
        return X
    norms = np.linalg.norm(X, axis=1)
    if (norms == 0).any():
        raise ValueError(
            f"{label} row {int(np.argmax(norms == 0))} is all zeros: its cosine distance is "
            "undefined"
        )
    return X / norms[:, None]


def _numeric_labels(y: np.ndarray, label: str) -> np.ndarray:
    try:
        return np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"regression needs numeric labels; {label} has {y.dtype}") from None
