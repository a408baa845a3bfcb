"""Training, validation and baseline data for valuation, and which player owns which row.

A :class:`Dataset` holds numeric features ``X`` and labels ``y``. Players are the rows when
``groups`` is None; otherwise every distinct group label is one player (e.g. one provider's
dataset), and players are numbered in the order in which their group first appears in
``groups`` — so the first provider in the file is player 0.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from functools import cached_property

import numpy as np


class Dataset:
    """Rows, labels and the player each row belongs to.

    Parameters
    ----------
    X : array-like of shape (n_rows, n_features)
        Numeric features, finite. Categorical columns must be encoded beforehand.
    y : array-like of shape (n_rows,)
        Labels (any dtype for classification; finite numbers for regression).
    groups : array-like of shape (n_rows,), optional
        The player label of every row. None (default) makes every row its own player.
    group_names : mapping or sequence of str, optional
        Display names of the players when ``groups`` is given: a mapping from group label to
        name, or a sequence in player order. Default: ``str(group label)``.
    feature_names : sequence of str, optional
        One name per feature column.

    Attributes
    ----------
    X : numpy.ndarray of float64, y : numpy.ndarray, groups : numpy.ndarray or None
        The validated data.
    player_of_row : numpy.ndarray of int
        The player index of every row.
    player_names : numpy.ndarray of str
        One name per player, in player order.

    Raises
    ------
    ValueError
        On empty data, shape mismatches, non-numeric or non-finite features, missing labels
        or groups, or names that do not match (see :meth:`validate`).
    """

    def __init__(
        self,
        X,
        y,
        *,
        groups=None,
        group_names: Mapping[Hashable, str] | Sequence[str] | None = None,
        feature_names: Sequence[str] | None = None,
    ) -> None:
        self.X, self.y, self.groups = self.validate(X, y, groups)
        self.feature_names = self._check_feature_names(feature_names)
        if self.groups is None:
            if group_names is not None:
                raise ValueError("group_names was given without groups")
            self.player_of_row = np.arange(self.n_rows)
        else:
            labels, first_seen, codes = np.unique(
                self.groups, return_index=True, return_inverse=True
            )
            # np.unique sorts; renumber players by first appearance so the order follows the input.
            order = np.argsort(first_seen, kind="stable")
            rank = np.empty_like(order)
            rank[order] = np.arange(order.size)
            self.player_of_row = rank[codes.ravel()]
            self.player_names = self._names_for(labels[order], group_names)

    @staticmethod
    def validate(X, y, groups=None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Check and convert ``X``, ``y`` and ``groups``; return them as numpy arrays.

        Raises
        ------
        ValueError
            With a message naming the offending row or column.
        """
        X_arr = np.asarray(X)
        if X_arr.ndim != 2:
            raise ValueError(f"X must be 2-D (n_rows, n_features); got shape {X_arr.shape}")
        n_rows, n_features = X_arr.shape
        if n_rows == 0:
            raise ValueError("the dataset is empty: X has no rows")
        if n_features == 0:
            raise ValueError("X has no feature columns")
        X_arr = _as_float_matrix(X_arr)
        bad = ~np.isfinite(X_arr)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise ValueError(
                f"X contains NaN or infinite values ({int(bad.sum())} cells; first at row "
                f"{row}, column {col})"
            )
        y_arr = np.asarray(y)
        if y_arr.ndim != 1:
            raise ValueError(f"y must be 1-D (n_rows,); got shape {y_arr.shape}")
        if y_arr.shape[0] != n_rows:
            raise ValueError(f"X has {n_rows} rows but y has {y_arr.shape[0]}")
        missing = _missing(y_arr)
        if missing.any():
            raise ValueError(
                f"y contains missing or infinite values ({int(missing.sum())} rows; first at "
                f"row {int(np.argmax(missing))})"
            )
        if groups is None:
            return X_arr, y_arr, None
        groups_arr = np.asarray(groups)
        if groups_arr.ndim != 1 or groups_arr.shape[0] != n_rows:
            raise ValueError(
                f"groups must be 1-D with one entry per row ({n_rows}); got shape "
                f"{groups_arr.shape}"
            )
        missing = _missing(groups_arr)
        if missing.any():
            raise ValueError(f"groups has a missing value at row {int(np.argmax(missing))}")
        return X_arr, y_arr, groups_arr

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Number of feature columns."""
        return int(self.X.shape[1])

    def check_features(self, **others: Dataset | None) -> None:
        """Refuse datasets (``valid=…``, ``baseline=…``; None is skipped) whose feature
        count differs from this training set's, naming the first that does."""
        for name, data in others.items():
            if data is not None and data.n_features != self.n_features:
                raise ValueError(
                    f"{name} has {data.n_features} feature columns but train has {self.n_features}"
                )

    @cached_property
    def player_names(self) -> np.ndarray:
        """One name per player, in player order; rows are named by their positions (built
        when first read: a million rows' names are about 90 MB of strings)."""
        return np.array([str(i) for i in range(self.n_rows)], dtype=object)

    @property
    def n_players(self) -> int:
        """Number of players: rows, or distinct groups."""
        return self.n_rows if self.groups is None else int(self.player_names.shape[0])

    def indices_of(self, players: Iterable[int]) -> np.ndarray:
        """Row indices (ascending) of the rows owned by ``players``.

        Parameters
        ----------
        players : iterable of int
            Player indices in ``[0, n_players)``.

        Returns
        -------
        numpy.ndarray of int
            Ascending row indices, so a coalition's training rows keep the input order
            however the coalition was assembled.
        """
        chosen = np.fromiter(players, dtype=np.int64)
        if chosen.size and (chosen.min() < 0 or chosen.max() >= self.n_players):
            raise ValueError(f"player indices must lie in [0, {self.n_players})")
        # A mask, not a sort: linear in the rows (a million-row coalition in milliseconds).
        member = np.zeros(self.n_players, dtype=bool)
        member[chosen] = True
        return np.flatnonzero(member if self.groups is None else member[self.player_of_row])

    @cached_property
    def player_sizes(self) -> np.ndarray:
        """Rows of every player, in player order (all 1 when players are rows)."""
        return np.bincount(self.player_of_row, minlength=self.n_players)

    def player_sums(self, values, rows=None) -> np.ndarray:
        """Sum values of rows over each player's rows: a row-level quantity per player.

        Parameters
        ----------
        values : array-like of shape (n,) or (m, n)
            Values of rows; a 2-D array is summed line by line.
        rows : array-like of int, same shape as ``values``, optional
            The row each value belongs to (rows may repeat or be missing). Default: the
            value's position along the last axis, so ``n`` must be ``n_rows``.

        Returns
        -------
        numpy.ndarray of shape (n_players,) or (m, n_players)
            Per player (and line), the sum of the values of its rows, added in the order
            of the values; 0 for a player with no value.
        """
        values = np.asarray(values, dtype=np.float64)
        if values.ndim not in (1, 2):
            raise ValueError(f"values must be 1-D or 2-D; got shape {values.shape}")
        if rows is None:
            if values.shape[-1] != self.n_rows:
                raise ValueError(f"values have {values.shape[-1]} entries for {self.n_rows} rows")
            players = np.broadcast_to(self.player_of_row, values.shape)
        else:
            rows = np.asarray(rows)
            if rows.shape != values.shape:
                raise ValueError(f"rows has shape {rows.shape} but values {values.shape}")
            players = self.player_of_row[rows]
        lines = 1 if values.ndim == 1 else values.shape[0]
        # One bincount over (line, player) slots: no Python loop over lines or players.
        slots = players + self.n_players * np.arange(lines).reshape(-1, *[1] * (values.ndim - 1))
        sums = np.bincount(slots.ravel(), weights=values.ravel(), minlength=lines * self.n_players)
        return sums.reshape(values.shape[:-1] + (self.n_players,))

    def __repr__(self) -> str:
        grouping = "rows" if self.groups is None else "groups"
        return (
            f"Dataset(n_rows={self.n_rows}, n_features={self.n_features}, "
            f"n_players={self.n_players} ({grouping}))"
        )

    def _check_feature_names(self, feature_names: Sequence[str] | None) -> np.ndarray | None:
        if feature_names is None:
            return None
        names = np.array([str(name) for name in feature_names], dtype=object)
        if names.shape[0] != self.n_features:
            raise ValueError(
                f"feature_names has {names.shape[0]} names for {self.n_features} columns"
            )
        return names

    @staticmethod
    def _names_for(
        labels: np.ndarray, group_names: Mapping[Hashable, str] | Sequence[str] | None
    ) -> np.ndarray:
        if group_names is None:
            return np.array([str(label) for label in labels], dtype=object)
        if isinstance(group_names, Mapping):
            absent = [label for label in labels.tolist() if label not in group_names]
            if absent:
                raise ValueError(f"group_names has no name for group(s) {absent[:5]}")
            return np.array([str(group_names[label]) for label in labels.tolist()], dtype=object)
        names = [str(name) for name in group_names]
        if len(names) != labels.shape[0]:
            raise ValueError(f"group_names has {len(names)} names for {labels.shape[0]} groups")
        return np.array(names, dtype=object)


def _as_float_matrix(X: np.ndarray) -> np.ndarray:
    """Convert to float64, naming the first column that is not numeric."""
    if X.dtype.kind in "biuf":
        return X.astype(np.float64, copy=False)
    for col in range(X.shape[1]):
        try:
            X[:, col].astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"X column {col} is not numeric (e.g. {X[0, col]!r}); encode categorical "
                "features as numbers first"
            ) from None
    return X.astype(np.float64)


def _missing(values: np.ndarray) -> np.ndarray:
    """Boolean mask of missing entries: NaN/inf for numbers, None/NaN for objects."""
    if values.dtype.kind in "fc":
        return ~np.isfinite(values)
    if values.dtype.kind == "O":
        return np.array(
            [v is None or (isinstance(v, float) and not np.isfinite(v)) for v in values],
            dtype=bool,
        )
    return np.zeros(values.shape[0], dtype=bool)
