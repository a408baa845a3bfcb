"""Data-quality reports: which rows of a dataset look wrong, and what removing them changes.

A provider's report (:func:`quality_report`) lists, for one training set judged against a
validation set:

* **suspect rows** — the lowest ``flag_share`` of :class:`~valuation.core.methods.consensus.
  Consensus` values (likely mislabeled or harmful), each with every detector's raw score;
* **exact duplicates** — rows whose features and label repeat an earlier row (the first
  copy is kept, later copies are listed), and **label conflicts**: identical features with
  different labels;
* **outliers** — rows whose largest modified z-score ``0.6745 · |x − median| / MAD`` over
  the features exceeds ``outlier_threshold`` (3.5, Iglewicz & Hoaglin's rule). Median and
  MAD resist the outliers themselves, unlike mean and standard deviation; a feature with
  MAD 0 (mostly constant) is skipped rather than flagging every row that differs;
* the **measured** change of the validation metric when each kind of flagged row is removed
  (and all of them together): the model is refitted without the rows and scored, never
  predicted from the values.

:func:`cross_fitted_quality_report` makes the same report from a dataset alone, with no
validation set from anyone else: the rows are split into folds (stratified by label for
classification), each fold is valued and refitted against the others, suspects are pooled
and the measured changes averaged over the folds. That is the provider's own report at
upload, where no consumer's data may be used.

A consumer's :func:`prune_suggestions` does the same for a bundle of datasets (a grouped
Dataset, one group per dataset): each dataset whose removal raises the metric, and the
suspect rows, each with the measured lift. Everything is JSON-serialisable via ``to_dict``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from valuation.core.dataset import Dataset
from valuation.core.methods.consensus import Consensus
from valuation.core.utility import ModelUtility

#: Modified z-score above which a row is an outlier (Iglewicz & Hoaglin, 1993).
OUTLIER_THRESHOLD = 3.5


@dataclass(frozen=True)
class Removal:
    """The metric after refitting without some rows, measured on the validation set."""

    kind: str
    rows: list[int]
    score_before: float
    score_after: float

    @property
    def change(self) -> float:
        """``score_after − score_before`` (positive: removing the rows helps)."""
        return self.score_after - self.score_before

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "change": self.change}


@dataclass(frozen=True)
class QualityReport:
    """What :func:`quality_report` found (rows are indices into the training Dataset)."""

    n_rows: int
    scorer: str
    suspects: list[dict[str, Any]]
    duplicates: list[int]
    label_conflicts: list[list[int]]
    outliers: list[int]
    removals: list[Removal]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["removals"] = [removal.to_dict() for removal in self.removals]
        return out


def exact_duplicates(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Rows whose features and label equal an earlier row's (later copies, ascending)."""
    keys = _row_keys(X, y)
    _, first = np.unique(keys, return_index=True)
    repeated = np.ones(len(keys), dtype=bool)
    repeated[first] = False
    return np.flatnonzero(repeated)


def label_conflicts(X: np.ndarray, y: np.ndarray) -> list[list[int]]:
    """Groups of rows with identical features but more than one distinct label."""
    keys = _row_keys(X, None)
    _, codes = np.unique(keys, return_inverse=True)
    groups = []
    for code in np.unique(codes):
        rows = np.flatnonzero(codes == code)
        if rows.size > 1 and np.unique(y[rows]).size > 1:
            groups.append(rows.tolist())
    return groups


def robust_outliers(X: np.ndarray, threshold: float = OUTLIER_THRESHOLD) -> np.ndarray:
    """Rows whose largest modified z-score over the features exceeds ``threshold``."""
    X = np.asarray(X, dtype=np.float64)
    median = np.median(X, axis=0)
    mad = np.median(np.abs(X - median), axis=0)
    usable = mad > 0
    if not usable.any():
        return np.array([], dtype=np.int64)
    z = 0.6745 * np.abs(X[:, usable] - median[usable]) / mad[usable]
    return np.flatnonzero(z.max(axis=1) > threshold)


def score_without(
    utility: ModelUtility, train: Dataset, valid: Dataset, rows: np.ndarray | list[int]
) -> tuple[float, float]:
    """Validation score of the model fitted on all of ``train``, and on ``train`` less ``rows``.

    Both are refits through the same :class:`ModelUtility` (so a set that cannot train the
    model gets its constant predictor, as everywhere in the engine).
    """
    rows_only = Dataset(train.X, train.y)
    game = utility.bind(rows_only, valid)
    everyone = frozenset(range(train.n_rows))
    kept = everyone - {int(row) for row in rows}
    return game.utility(everyone), game.utility(kept)


def quality_report(
    train: Dataset,
    valid: Dataset,
    *,
    model: Any,
    scorer: str | None = None,
    task: Literal["classification", "regression"] = "classification",
    flag_share: float = 0.1,
    outlier_threshold: float = OUTLIER_THRESHOLD,
    random_state: int | None = None,
    n_estimators: int = 100,
) -> QualityReport:
    """A provider's quality report for the rows of ``train`` (see the module docstring).

    Parameters
    ----------
    train, valid : Dataset
        Training rows (reported on) and validation rows (the detectors' and the metric's).
    model : scikit-learn estimator
        Refitted to measure each removal.
    scorer : str, optional
        Metric name (:func:`~valuation.core.scoring.get_scorer`); default accuracy / r2.
    task : {"classification", "regression"}
    flag_share : float, default 0.1
        Share of rows, lowest consensus first, reported as suspect.
    outlier_threshold : float, default 3.5
        Modified z-score above which a row is an outlier.
    random_state : int, optional
        Seed of the detectors.
    n_estimators : int, default 100
        Bags of Data-OOB, the costliest detector.
    """
    _check_share(flag_share)
    rows_only = Dataset(train.X, train.y)
    suspect_rows, suspects = _suspects(
        rows_only, valid, task, flag_share, random_state, n_estimators
    )
    duplicates = exact_duplicates(train.X, train.y)
    outliers = robust_outliers(train.X, outlier_threshold)
    utility = ModelUtility(model, scorer, task=task)
    flagged = {
        "suspects": np.sort(suspect_rows),
        "duplicates": duplicates,
        "outliers": outliers,
    }
    flagged["all"] = np.union1d(np.union1d(flagged["suspects"], duplicates), outliers)
    removals = []
    for kind, rows in flagged.items():
        before, after = score_without(utility, train, valid, rows)
        removals.append(Removal(kind, [int(r) for r in rows], before, after))
    return QualityReport(
        n_rows=train.n_rows,
        scorer=utility.bind(rows_only, valid).scorer.name,
        suspects=suspects,
        duplicates=[int(r) for r in duplicates],
        label_conflicts=label_conflicts(train.X, train.y),
        outliers=[int(r) for r in outliers],
        removals=removals,
    )


def cross_fitted_quality_report(
    train: Dataset,
    *,
    model: Any,
    scorer: str | None = None,
    task: Literal["classification", "regression"] = "classification",
    folds: int = 2,
    flag_share: float = 0.1,
    outlier_threshold: float = OUTLIER_THRESHOLD,
    max_rows: int | None = None,
    random_state: int | None = None,
    n_estimators: int = 100,
) -> QualityReport:
    """:func:`quality_report` of ``train`` judged against itself, fold by fold.

    The rows are dealt into ``folds`` folds (shuffled, then stratified by label for
    classification). Each fold is valued by the detectors against the other folds' rows and
    refitted without its flagged rows, scored on those rows; ``suspects`` pools every fold's
    lowest ``flag_share`` (each with its fold's scores, lowest consensus first) and each
    removal's scores are the mean over the folds. Duplicates, label conflicts and outliers
    are found on all the rows at once; a fold removes the ones it holds.

    Parameters
    ----------
    train : Dataset
        The rows reported on; row numbers in the report are indices into it.
    model, scorer, task, flag_share, outlier_threshold, n_estimators
        As in :func:`quality_report`.
    folds : int, default 2
        Number of folds (each needs rows of the other folds to be judged against).
    max_rows : int, optional
        Report on a seeded sample of at most this many rows (bounds the detectors' cost on a
        large dataset; the row numbers stay those of ``train``). None: every row.
    random_state : int, optional
        Seed of the shuffle, the sample and the detectors.

    Returns
    -------
    QualityReport
    """
    _check_share(flag_share)
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds!r}")
    rng = np.random.default_rng(random_state)
    rows = np.arange(train.n_rows)
    if max_rows is not None and train.n_rows > max_rows:
        rows = np.sort(rng.choice(train.n_rows, max_rows, replace=False))
    if rows.size < 2 * folds:
        raise ValueError(f"{rows.size} rows are too few for {folds} folds")
    order = rng.permutation(rows)
    if task == "classification":
        order = order[np.argsort(train.y[order], kind="stable")]
    fold_of = np.empty(train.n_rows, dtype=np.int64)
    fold_of[order] = np.arange(order.size) % folds
    X, y = train.X[rows], train.y[rows]
    duplicates = rows[exact_duplicates(X, y)]
    outliers = rows[robust_outliers(X, outlier_threshold)]
    utility = ModelUtility(model, scorer, task=task)
    suspects: list[dict[str, Any]] = []
    scores: dict[str, list[tuple[float, float]]] = {}
    flagged_rows: dict[str, list[np.ndarray]] = {}
    for fold in range(folds):
        inside, outside = rows[fold_of[rows] == fold], rows[fold_of[rows] != fold]
        part, rest = _rows(train, inside), _rows(train, outside)
        local, found = _suspects(part, rest, task, flag_share, random_state, n_estimators)
        suspects += [{**row, "row": int(inside[row["row"]]), "fold": fold} for row in found]
        flagged = {
            "suspects": np.sort(local),
            "duplicates": np.flatnonzero(np.isin(inside, duplicates)),
            "outliers": np.flatnonzero(np.isin(inside, outliers)),
        }
        flagged["all"] = np.union1d(
            np.union1d(flagged["suspects"], flagged["duplicates"]), flagged["outliers"]
        )
        for kind, local_rows in flagged.items():
            scores.setdefault(kind, []).append(score_without(utility, part, rest, local_rows))
            flagged_rows.setdefault(kind, []).append(inside[local_rows])
    removals = [
        Removal(
            kind,
            sorted(int(r) for r in np.concatenate(flagged_rows[kind])),
            float(np.mean([before for before, _ in pairs])),
            float(np.mean([after for _, after in pairs])),
        )
        for kind, pairs in scores.items()
    ]
    suspects.sort(key=lambda row: (row["consensus"], row["row"]))
    return QualityReport(
        n_rows=int(rows.size),
        scorer=utility.bind(_rows(train, rows), _rows(train, rows)).scorer.name,
        suspects=suspects,
        duplicates=[int(r) for r in duplicates],
        label_conflicts=[rows[group].tolist() for group in label_conflicts(X, y)],
        outliers=[int(r) for r in outliers],
        removals=removals,
    )


def prune_suggestions(
    bundle: Dataset,
    valid: Dataset,
    *,
    model: Any,
    scorer: str | None = None,
    task: Literal["classification", "regression"] = "classification",
    flag_share: float = 0.1,
    random_state: int | None = None,
) -> dict[str, Any]:
    """What a consumer should drop from a bundle, each suggestion with its measured lift.

    Parameters
    ----------
    bundle : Dataset
        The consumer's training data; its players (groups) are the datasets.
    valid : Dataset
        The consumer's validation rows.
    model, scorer, task, flag_share, random_state
        As in :func:`quality_report`.

    Returns
    -------
    dict
        ``datasets``: one entry per dataset (player) whose removal raises the metric, with
        ``rows`` and the measured ``change``, best first; ``rows``: the lowest
        ``flag_share`` of rows by consensus and the measured change from dropping them;
        ``score``: the metric on the whole bundle.
    """
    utility = ModelUtility(model, scorer, task=task)
    datasets = []
    for player, name in enumerate(bundle.player_names):
        rows = np.flatnonzero(bundle.player_of_row == player)
        before, after = score_without(utility, bundle, valid, rows)
        if after > before:
            datasets.append(Removal(f"dataset {name}", rows.tolist(), before, after))
    datasets.sort(key=lambda removal: -removal.change)
    consensus = Consensus(task=task, random_state=random_state).fit(
        Dataset(bundle.X, bundle.y), valid
    )
    n_flag = max(1, int(round(flag_share * bundle.n_rows)))
    suspect = np.sort(np.argsort(consensus.result_.values, kind="stable")[:n_flag])
    before, after = score_without(utility, bundle, valid, suspect)
    return {
        "score": before,
        "datasets": [removal.to_dict() for removal in datasets],
        "rows": Removal("suspect rows", suspect.tolist(), before, after).to_dict(),
    }


def _row_keys(X: np.ndarray, y: np.ndarray | None) -> np.ndarray:
    """One comparable key per row: its feature bytes (and label), for exact matching."""
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
    # -0.0 and 0.0 are the same value but different bytes.
    X = X + 0.0
    keys = [row.tobytes() for row in X]
    if y is not None:
        keys = [key + repr(label).encode() for key, label in zip(keys, y, strict=True)]
    return np.array(keys, dtype=object)


def _rows(data: Dataset, rows: np.ndarray) -> Dataset:
    """Some rows of ``data``, every row its own player."""
    return Dataset(data.X[rows], data.y[rows])


def _check_share(flag_share: float) -> None:
    if not 0 < flag_share < 1:
        raise ValueError(f"flag_share must be in (0, 1), got {flag_share!r}")


def _suspects(
    train: Dataset,
    valid: Dataset,
    task: str,
    flag_share: float,
    random_state: int | None,
    n_estimators: int = 100,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The lowest ``flag_share`` of ``train``'s rows by consensus against ``valid``: their
    indices, and one entry per row with the consensus and every detector's raw score."""
    consensus = Consensus(task=task, n_estimators=n_estimators, random_state=random_state)
    consensus = consensus.fit(Dataset(train.X, train.y), valid)
    n_flag = max(1, int(round(flag_share * train.n_rows)))
    rows = np.argsort(consensus.result_.values, kind="stable")[:n_flag]
    return rows, [
        {
            "row": int(row),
            "consensus": float(consensus.result_.values[row]),
            **{name: float(values[row]) for name, values in consensus.scores_.items()},
        }
        for row in rows
    ]
