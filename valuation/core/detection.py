"""Manipulation screens at upload: replicated datasets, label-flip poisoning, backdoor triggers.

**Replication.** :func:`dataset_similarity` compares two datasets row by row. Both are
standardised with the mean and deviation of their union (so the pair is treated alike
whichever comes first). A row of ``A`` is a *near duplicate* when its nearest row of ``B``
is closer than ``radius`` times ``A``'s own typical spacing — the median distance from a row
of ``A`` to its nearest *other* row of ``A`` — or equals it exactly (and symmetrically for
the rows of ``B``). The similarity is the share of rows of either dataset that have a near
duplicate in the other::

    SM(A, B) = (#near-duplicated rows of A + #near-duplicated rows of B) / (|A| + |B|)

It lies in [0, 1], is symmetric, and ``SM(A, A) = 1``. Measuring closeness against the
data's own spacing is what makes the score mean the same in any dimension: for two
independent samples of one distribution, a row's nearest neighbour in the other sample is
about as far as its nearest neighbour in its own, and the chance that it falls within a
quarter of that is about ``ln 2 · radius^d`` (under 1% from ``d = 4`` features, ~4% at
``d = 2``), while a copy with noise small against the spacing stays near 1. (A fixed
cosine threshold, tried first, called independent data with 3 features 0.7 similar.)
These are the properties of market.md §1.1 Definition 4.1 that the Shapley-Robust penalty
relies on; ``1 − SM`` is not guaranteed to satisfy the triangle inequality.
:func:`similarity_matrix` gives every pair of a list of datasets, ready for that penalty.
Exact copies are also found by :func:`row_hashes`, cheap enough for every upload.

**Poisoning.** :class:`PoisonScreen` flags the lowest-valued rows of an upload against a
clean validation set with :class:`~valuation.core.methods.consensus.Consensus`: flipped
labels disagree with their neighbours (KNN-Shapley, Data-OOB) and cost transport (LAVA).
Trigger-style backdoors (a feature pattern tied to one label) sit away from the validation
distribution: LAVA's transport gradient singles them out, while KNN-Shapley gives them
values near zero (they are rarely anyone's neighbour), below helpful rows but above
mislabeled ones, and Data-OOB sees nothing wrong (the pattern predicts its label perfectly
out of bag). So ``methods=("lava",)`` is the backdoor screen, and ``("knn-shapley",
"lava")`` a broader one; ``benchmarks/detection.py`` measures each.

**The verdict.** :func:`screen_labels` and :func:`screen_similarity` turn those screens into
measured numbers, each with its threshold (:class:`ScreeningRules`), and the reasons to hold
an upload: :class:`Findings`, its numbers a typed :class:`ScreenNumbers`. The platform's
screening of an upload (``marketplace.services.screening``) and ``python -m valuation screen``
both call them, so they reach the same verdict on the same data:

* **label flips** — :class:`PoisonScreen` flags the rows valued lowest against a reference
  (other providers' rows, or each half of the upload against the other from
  ``min_self_reference_rows`` rows); a k-NN probe (flipped labels poison its neighbourhoods
  directly, while a linear model shrugs off symmetric flips) is refitted without them and
  scored on the reference. A hold needs the accuracy to rise by ``poison_points`` points
  *and* the reference rows it fixes to outnumber those it breaks beyond chance (one-sided
  sign test below ``poison_p_value``): dropping the hardest 10% of a clean small upload moves
  the accuracy by a few rows either way.
* **backdoor triggers** — most of the LAVA screen's flagged rows (two at least) share one
  value of a feature far outside the reference's range (robust z above
  :data:`~valuation.core.quality.OUTLIER_THRESHOLD`), and ``trigger_label_share`` of them
  carry one label.
* **near duplicates** — a similarity of ``similarity_hold`` or more to another dataset.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
from scipy.stats import binom
from sklearn.base import BaseEstimator

from valuation.core.catalog import make_model
from valuation.core.dataset import Dataset
from valuation.core.methods.consensus import Consensus, Detector
from valuation.core.quality import OUTLIER_THRESHOLD
from valuation.core.records import Record
from valuation.core.report import Label
from valuation.core.tabular import row_hashes as table_row_hashes
from valuation.core.utility import ModelUtility

#: A row is a near duplicate within this fraction of its dataset's typical row spacing.
NEAR_DUPLICATE_RADIUS = 0.25

#: Rows of each side per block of distances: one block is ``_BLOCK²`` float64 (32 MiB), so
#: the working memory of a similarity does not grow with the data.
_BLOCK = 2048

#: Nearest rows are found with a k-d tree up to this many features (beyond, a tree prunes
#: little and the blocks of distances are faster).
TREE_MAX_FEATURES = 16
#: Relative difference within which two distances from a query count as a tie.
_TIE = 1e-9


def row_hashes(X: np.ndarray) -> np.ndarray:
    """A 64-bit fingerprint per row of float64 features (−0.0 and 0.0 hash alike): the
    uploads' :func:`~valuation.core.tabular.row_hashes` of the matrix, vectorised, so rows
    are compared as integers."""
    import pandas as pd

    X = np.asarray(X, dtype=np.float64) + 0.0
    if X.ndim != 2:
        raise ValueError(f"row_hashes needs a 2-d array, got {X.ndim} dimensions")
    # Columns named 0 … d−1, which tabular's sort by name keeps in position order.
    return table_row_hashes(pd.DataFrame(X))


def nearest_distances(
    Q: np.ndarray,
    X: np.ndarray,
    *,
    skip: np.ndarray | None = None,
    within: float | None = None,
) -> np.ndarray:
    """Euclidean distance from each row of ``Q`` to its nearest row of ``X``.

    ``skip[i]`` is a row of ``X`` that query ``i`` may not use (itself, when the queries are
    rows of ``X``); a query with no other row gets inf. With ``within``, a query whose
    nearest row is farther than that may get inf instead of the distance (which is all a
    caller comparing distances with ``within`` needs, and much faster to find).

    With at most :data:`TREE_MAX_FEATURES` features a k-d tree over every row of ``X``
    answers (no index is asked for, so neither repeated rows nor ties need resolving, and a
    skipped row is passed over by asking for two neighbours): the median spacing of 2,000
    rows of a million takes a third of a second, where blocks of distances take seconds.
    """
    if not (0 < X.shape[1] <= TREE_MAX_FEATURES and X.shape[0] > 0):
        return nearest_rows(Q, X, skip=skip, within=within)[0]
    from scipy.spatial import cKDTree

    # An unbalanced tree without shrunk nodes builds 2–3× faster and answers as fast.
    tree = cKDTree(X, balanced_tree=False, compact_nodes=False)
    bound = _bound(within)
    if skip is None:
        return np.asarray(tree.query(Q, k=1, distance_upper_bound=bound)[0], dtype=np.float64)
    # The nearest row other than skip[i] is one of the two nearest (inf where X runs out).
    distance, index = tree.query(Q, k=2, distance_upper_bound=bound)
    skipped = index[:, 0] == np.asarray(skip)
    return np.where(skipped, distance[:, 1], distance[:, 0]).astype(np.float64)


def _bound(within: float | None) -> float:
    """A tree's distance bound that keeps rows at ``within`` itself (and float noise)."""
    return np.inf if within is None else float(within) * (1 + _TIE) + 1e-12


def nearest_rows(
    Q: np.ndarray,
    X: np.ndarray,
    *,
    skip: np.ndarray | None = None,
    within: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`nearest_distances` and the index in ``X`` of each query's nearest row (-1 when
    there is none, or none within ``within``). Ties go to the lower index.

    With at most :data:`TREE_MAX_FEATURES` features and no ``skip``, a k-d tree over the
    distinct rows of ``X`` answers; with ``within`` it prunes everything farther, so a
    million rows against half a million take seconds, where comparing every pair takes a
    quarter of an hour. Otherwise both sides are cut into blocks of :data:`_BLOCK` rows and
    a running minimum is kept per query, so memory is bounded by the block, not by
    ``len(Q) × len(X)``.
    """
    if skip is None and 0 < X.shape[1] <= TREE_MAX_FEATURES and X.shape[0] > 0:
        return _nearest_by_tree(Q, X, within)
    squared = np.einsum("ij,ij->i", X, X)
    distance, index = np.empty(Q.shape[0]), np.full(Q.shape[0], -1, dtype=np.int64)
    for start in range(0, Q.shape[0], _BLOCK):
        block = Q[start : start + _BLOCK]
        rows = np.arange(block.shape[0])
        block_squared = np.einsum("ij,ij->i", block, block)[:, None]
        best = np.full(block.shape[0], np.inf)
        where = np.full(block.shape[0], -1, dtype=np.int64)
        for first in range(0, X.shape[0], _BLOCK):
            part = X[first : first + _BLOCK]
            d2 = block_squared + squared[None, first : first + _BLOCK] - 2 * block @ part.T
            if skip is not None:
                local = skip[start : start + _BLOCK] - first
                inside = (local >= 0) & (local < part.shape[0])
                d2[rows[inside], local[inside]] = np.inf
            nearest = d2.argmin(axis=1)
            found = d2[rows, nearest]
            # Strictly closer only: on a tie the earlier block, with the lower index, stays.
            closer = found < best
            best[closer], where[closer] = found[closer], nearest[closer] + first
        distance[start : start + block.shape[0]] = np.sqrt(np.maximum(best, 0.0))
        index[start : start + block.shape[0]] = where
    return distance, index


def _nearest_by_tree(
    Q: np.ndarray, X: np.ndarray, within: float | None
) -> tuple[np.ndarray, np.ndarray]:
    from scipy.spatial import cKDTree

    # Repeated rows of X are one point of the tree, named by their first (lowest) index.
    distinct, first = np.unique(X, axis=0, return_index=True)
    tree = cKDTree(distinct)
    distance, nearest = tree.query(Q, k=2, distance_upper_bound=_bound(within))
    distance, second, nearest = distance[:, 0], distance[:, 1], nearest[:, 0]
    found = np.isfinite(distance)
    index = np.full(Q.shape[0], -1, dtype=np.int64)
    index[found] = first[nearest[found]]
    # Distinct rows as near as each other (a grid of discrete values): the lowest index.
    for q in np.flatnonzero(found & (second <= distance * (1 + _TIE))):
        tied = tree.query_ball_point(Q[q], distance[q] * (1 + _TIE))
        index[q] = first[tied].min()
    return np.asarray(distance, dtype=np.float64), index


def near_duplicate_rows(
    X_a: np.ndarray,
    X_b: np.ndarray,
    *,
    radius: float = NEAR_DUPLICATE_RADIUS,
    max_rows: int | None = None,
    random_state: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Which rows of ``X_a`` have a near duplicate in ``X_b``, and which of ``X_b`` in ``X_a``.

    Returns two boolean arrays (module docstring for the rule). With ``max_rows``, at most
    that many seeded rows of each side are *asked* (the arrays then cover those rows only),
    but each is compared with every row of the other side and of its own — so the share of
    near-duplicated rows is estimated without bias, at ``max_rows × n`` distances a side.
    """
    X_a = np.asarray(X_a, dtype=np.float64)
    X_b = np.asarray(X_b, dtype=np.float64)
    if X_a.ndim != 2 or X_b.ndim != 2 or X_a.shape[1] != X_b.shape[1]:
        raise ValueError("both datasets must be 2-d with the same feature columns")
    if not radius >= 0:
        raise ValueError(f"radius must be non-negative, got {radius!r}")
    both = np.concatenate([X_a, X_b])
    scale = both.std(axis=0)
    scale[scale == 0] = 1.0
    A = (X_a - both.mean(axis=0)) / scale
    B = (X_b - both.mean(axis=0)) / scale
    rng = np.random.default_rng(random_state)
    ask_a, ask_b = _asked(len(A), max_rows, rng), _asked(len(B), max_rows, rng)
    spacing_a = float(np.median(nearest_distances(A[ask_a], A, skip=ask_a)))
    spacing_b = float(np.median(nearest_distances(B[ask_b], B, skip=ask_b)))
    # A one-row dataset has no spacing of its own: it borrows the other's (or, if both are
    # single rows, only an exact match counts).
    if not np.isfinite(spacing_a):
        spacing_a = spacing_b if np.isfinite(spacing_b) else 0.0
    if not np.isfinite(spacing_b):
        spacing_b = spacing_a
    in_b = np.isin(row_hashes(A[ask_a]), row_hashes(B))
    in_a = np.isin(row_hashes(B[ask_b]), row_hashes(A))
    in_b |= nearest_distances(A[ask_a], B, within=radius * spacing_a) <= radius * spacing_a
    in_a |= nearest_distances(B[ask_b], A, within=radius * spacing_b) <= radius * spacing_b
    return in_b, in_a


def _asked(n: int, max_rows: int | None, rng: np.random.Generator) -> np.ndarray:
    if max_rows is None or n <= max_rows:
        return np.arange(n)
    return np.sort(rng.choice(n, size=max_rows, replace=False))


def dataset_similarity(
    X_a: np.ndarray,
    X_b: np.ndarray,
    *,
    radius: float = NEAR_DUPLICATE_RADIUS,
    max_rows: int | None = None,
    random_state: int | None = None,
) -> float:
    """``SM(A, B)``: the share of rows of either dataset near-duplicated in the other
    (estimated from ``max_rows`` asked rows a side when given, see
    :func:`near_duplicate_rows`)."""
    in_b, in_a = near_duplicate_rows(
        X_a, X_b, radius=radius, max_rows=max_rows, random_state=random_state
    )
    return float((in_b.sum() + in_a.sum()) / (in_b.size + in_a.size))


def similarity_matrix(
    datasets: Sequence[np.ndarray], *, radius: float = NEAR_DUPLICATE_RADIUS
) -> np.ndarray:
    """``SM`` between every pair of datasets: symmetric, ones on the diagonal, in [0, 1]."""
    n = len(datasets)
    out = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            out[i, j] = out[j, i] = dataset_similarity(datasets[i], datasets[j], radius=radius)
    return out


class PoisonScreen(BaseEstimator):
    """Flag the rows of an upload most likely poisoned, by consensus of value detectors.

    Parameters
    ----------
    methods : sequence of detector names, optional
        Passed to :class:`~valuation.core.methods.consensus.Consensus`; None uses all three
        (label flips); ``("lava",)`` screens for backdoor triggers (module docstring).
    share : float, default 0.1
        Share of rows flagged, lowest consensus first.
    k : int, default 5
        Neighbours of KNN-Shapley.
    random_state : int, optional
        Seed of the detectors.
    n_estimators : int, default 100
        Bags of Data-OOB (when it is one of the detectors).

    Attributes
    ----------
    scores_ : numpy.ndarray of shape (n_rows,)
        Consensus value per row (low = suspicious).
    method_scores_ : dict of str to numpy.ndarray
        Each detector's raw values.
    flagged_ : numpy.ndarray of int
        The flagged rows, ascending.
    """

    def __init__(
        self,
        *,
        methods: Sequence[Detector] | None = None,
        share: float = 0.1,
        k: int = 5,
        random_state: int | None = None,
        n_estimators: int = 100,
    ) -> None:
        self.methods = methods
        self.share = share
        self.k = k
        self.random_state = random_state
        self.n_estimators = n_estimators

    def fit(self, upload: Dataset, valid: Dataset) -> Self:
        """Value the rows of ``upload`` against the clean ``valid`` rows and flag the lowest."""
        if not 0 < self.share < 1:
            raise ValueError(f"share must be in (0, 1), got {self.share!r}")
        consensus = Consensus(
            methods=self.methods,
            k=self.k,
            n_estimators=self.n_estimators,
            random_state=self.random_state,
        )
        consensus.fit(Dataset(upload.X, upload.y), valid)
        self.scores_ = consensus.result_.values
        self.method_scores_ = consensus.scores_
        n_flag = max(1, int(round(self.share * upload.n_rows)))
        self.flagged_ = np.sort(np.argsort(self.scores_, kind="stable")[:n_flag])
        return self


def copy_attribution(
    X: np.ndarray,
    y: np.ndarray,
    source: np.ndarray,
    reference: np.ndarray,
    *,
    radius: float = NEAR_DUPLICATE_RADIUS,
) -> np.ndarray:
    """Which row each row's credit belongs to: its own, or — when it nearly duplicates a row
    with the same label from an earlier source — that original's (through chains of copies,
    the first one).

    ``source`` numbers each row's source (a provider's dataset) in order of precedence: a
    lower number came first. A row nearly duplicates another when their distance, on rows
    standardised together, is within ``radius`` of the typical spacing of the rows, measured
    from outside: the median distance from a ``reference`` row (rows independent of the
    sources, such as the validation set) to its nearest row of ``X``. Copies cannot shrink
    that scale (a row and its copy sit at one place) and cutting a source into several does
    not move it, so what counts as a copy depends on the rows alone. Independent rows fall
    that close by chance rarely (about ``ln 2 · radius^d`` of them with ``d`` features), and
    then an original collects a stranger's credit for one row.

    Returns
    -------
    numpy.ndarray of int
        ``target[i]`` is the row credited for row ``i`` (``i`` itself when it is no copy).
    """
    X = np.asarray(X, dtype=np.float64)
    source = np.asarray(source)
    center, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    Z = (X - center) / scale
    outside = (np.asarray(reference, dtype=np.float64) - center) / scale
    spacing = float(np.median(nearest_distances(outside, Z)))
    reach = radius * spacing + 1e-9  # exact copies, through the rounding of the distances
    target = np.arange(X.shape[0])
    for current in np.unique(source):
        mine = np.flatnonzero(source == current)
        for label in np.unique(y[mine]):
            asking = mine[y[mine] == label]
            earlier = np.flatnonzero((source < current) & (y == label))
            distance, nearest = nearest_rows(Z[asking], Z[earlier], within=reach)
            copies = (nearest >= 0) & (distance <= reach)
            target[asking[copies]] = earlier[nearest[copies]]
    while not np.array_equal(target[target], target):
        target = target[target]
    return target


# --- the verdict -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ScreeningRules:
    """The thresholds of a screening verdict (module docstring); the platform's come from
    its settings (``DATAFAIR_SIMILARITY_HOLD``, ``DATAFAIR_POISON_HOLD_POINTS``, …)."""

    similarity_hold: float = 0.5
    poison_points: float = 2.0
    poison_p_value: float = 0.01
    trigger_label_share: float = 0.9
    min_self_reference_rows: int = 200
    probe_model: str = "knn"
    n_estimators: int = 100


@dataclass(frozen=True)
class LabelFlips(Record):
    """The label-flip screen: what judged the upload (``reference``: "other providers",
    "cross-fitted", or "none" when it was ``skipped``, with why), the rows it flagged, the
    change of the k-NN probe's accuracy without them (``change_points``, in points) and the
    sign test's ``p_value``; the measurements are None when the screen was skipped."""

    reference: str
    flagged_rows: int | None = None
    change_points: float | None = None
    p_value: float | None = None
    skipped: str = ""


@dataclass(frozen=True)
class Trigger(Record):
    """A likely backdoor trigger: ``rows`` of the flagged rows share ``column`` = ``value``,
    a robust ``z`` away from the reference, and ``label_share`` of them carry ``label``."""

    column: str
    value: float
    z: float
    rows: int
    label: Label
    label_share: float


@dataclass(frozen=True)
class ScreenNumbers(Record):
    """What the screens measured: the similarity to each dataset compared (``similar_to``:
    its name → similarity), and for a classification upload the label-flip screen and the
    trigger found (None: none found, or not screened)."""

    similar_to: dict[str, float] = field(default_factory=dict)
    label_flips: LabelFlips | None = None
    trigger: Trigger | None = None


@dataclass
class Findings:
    """What a screening measured (``numbers``) and why to hold (``reasons``; none: the
    upload may go on sale)."""

    #: The layout of :meth:`to_dict` (2: ``numbers`` is a :class:`ScreenNumbers`).
    VERSION: ClassVar[int] = 2

    reasons: list[str] = field(default_factory=list)
    numbers: ScreenNumbers = field(default_factory=ScreenNumbers)

    @property
    def held(self) -> bool:
        return bool(self.reasons)

    def measured(self, **numbers: Any) -> None:
        """Record some of the :class:`ScreenNumbers` (each screen its own)."""
        self.numbers = dataclasses.replace(self.numbers, **numbers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.VERSION,
            "reasons": list(self.reasons),
            "numbers": self.numbers.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Findings:
        if data.get("version") != cls.VERSION:
            raise ValueError(f"findings of version {data.get('version')}; this reads {cls.VERSION}")
        return cls(list(data["reasons"]), ScreenNumbers.from_dict(data["numbers"]))


def screen_similarity(
    similar_to: Mapping[str, float], rules: ScreeningRules, findings: Findings
) -> None:
    """Record the measured similarities and hold when the largest reaches the rule. The
    reason names no dataset (whoever reads it may not see the others); ``similar_to`` does."""
    findings.measured(similar_to=dict(similar_to))
    worst = max(similar_to.values(), default=0.0)
    if worst >= rules.similarity_hold:
        findings.reasons.append(
            f"{worst:.0%} of its rows and those of another provider's dataset are near "
            f"duplicates of each other (similarity {worst:.2f} ≥ {rules.similarity_hold:g})"
        )


def screen_labels(
    upload: Dataset,
    reference: Dataset | None,
    rules: ScreeningRules,
    findings: Findings,
    *,
    seed: int,
    columns: Sequence[str],
) -> None:
    """The label-flip and backdoor-trigger screens of a classification upload against
    ``reference`` (None: the upload's halves judge each other), recorded in ``findings``
    as ``label_flips`` and ``trigger`` (``columns`` name the features)."""
    _label_flips(upload, reference, rules, findings, seed)
    _trigger(upload, reference, rules, findings, seed, columns)


def _folds(upload: Dataset, reference: Dataset | None, seed: int) -> list[tuple[Dataset, Dataset]]:
    """(screened rows, reference) pairs: the upload against the reference, or each half of
    the upload against the other half."""
    if reference is not None:
        return [(upload, reference)]
    order = np.random.default_rng(seed).permutation(upload.n_rows)
    halves = order[::2], order[1::2]
    return [
        (Dataset(upload.X[a], upload.y[a]), Dataset(upload.X[b], upload.y[b]))
        for a, b in (halves, halves[::-1])
    ]


def _judged_by(reference: Dataset | None) -> str:
    return "other providers' data" if reference is not None else "its own other half"


def _label_flips(upload, reference, rules: ScreeningRules, findings: Findings, seed: int) -> None:
    if reference is None and upload.n_rows < rules.min_self_reference_rows:
        skipped = (
            f"no other provider's data to judge it by, and fewer than "
            f"{rules.min_self_reference_rows} rows to judge it by itself"
        )
        findings.measured(label_flips=LabelFlips("none", skipped=skipped))
        return
    fixed = broken = scored = flagged = 0
    for rows, judge in _folds(upload, reference, seed):
        screen = PoisonScreen(random_state=seed, n_estimators=rules.n_estimators).fit(rows, judge)
        game = ModelUtility(
            make_model(rules.probe_model, "classification"), "accuracy", task="classification"
        ).bind(rows, judge)
        kept = tuple(sorted(set(range(rows.n_rows)) - set(screen.flagged_.tolist())))
        before = game.fitted_model(tuple(range(rows.n_rows))).predict(judge.X) == judge.y
        after = game.fitted_model(kept).predict(judge.X) == judge.y
        fixed += int((after & ~before).sum())
        broken += int((before & ~after).sum())
        scored += judge.n_rows
        flagged += screen.flagged_.size
    change = 100 * (fixed - broken) / scored
    p_value = float(binom.sf(fixed - 1, fixed + broken, 0.5)) if fixed + broken else 1.0
    flips = LabelFlips(
        reference="other providers" if reference is not None else "cross-fitted",
        flagged_rows=flagged,
        change_points=round(change, 2),
        p_value=round(p_value, 4),
    )
    findings.measured(label_flips=flips)
    if change >= rules.poison_points and p_value < rules.poison_p_value:
        findings.reasons.append(
            f"dropping its {flagged} lowest-valued rows raises a k-NN model's accuracy on "
            f"{_judged_by(reference)} by {change:.1f} points (≥ {rules.poison_points:g}; p = "
            f"{p_value:.3f}): likely flipped labels"
        )


def _trigger(upload, reference, rules: ScreeningRules, findings: Findings, seed, columns) -> None:
    found = None
    for rows, judge in _folds(upload, reference, seed):
        screen = PoisonScreen(methods=("lava",), random_state=seed).fit(rows, judge)
        found = found or _shared_far_value(
            rows.X[screen.flagged_], rows.y[screen.flagged_], judge.X, rules.trigger_label_share
        )
    if found is None:
        return
    column, value, z, count, label, share = found
    trigger = Trigger(columns[column], value, round(z, 2), count, label, round(share, 4))
    findings.measured(trigger=trigger)
    findings.reasons.append(
        f"{count} of the rows the LAVA screen flags share {columns[column]} = {value:g}, far "
        f"outside {_judged_by(reference)} (robust z {z:.1f} > {OUTLIER_THRESHOLD:g}), and "
        f"{share:.0%} of them are labelled {label}: a likely backdoor trigger"
    )


def _shared_far_value(X: np.ndarray, y: np.ndarray, reference: np.ndarray, label_share: float):
    """The (column, value, z, rows, label, label share) of a trigger among flagged rows:
    more than half of them (two at least) share a value far outside the reference's range,
    and at least ``label_share`` of those carry one label; None when there is none."""
    median = np.median(reference, axis=0)
    mad = np.median(np.abs(reference - median), axis=0)
    best = None
    for column in np.flatnonzero(mad > 0):
        values, counts = np.unique(X[:, column], return_counts=True)
        value, count = values[counts.argmax()], int(counts.max())
        z = float(0.6745 * abs(value - median[column]) / mad[column])
        if count < 2 or 2 * count <= len(X) or z <= OUTLIER_THRESHOLD:
            continue
        classes, per_class = np.unique(y[X[:, column] == value], return_counts=True)
        share = per_class.max() / count
        if share >= label_share and (best is None or count > best[3]):
            label = classes[per_class.argmax()]
            best = (int(column), float(value), z, count, _plain(label), float(share))
    return best


def _plain(label):
    return label.item() if hasattr(label, "item") else label
