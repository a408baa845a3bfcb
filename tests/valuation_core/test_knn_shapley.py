"""KNNShapley against the oracles O2–O5, the generic exact engine (O9) and its own promises.

The k-NN utility is rebuilt here as a plain :class:`Game` (distances in exact integer
arithmetic, ties broken by index) and valued by enumeration with ``ExactShapley``: the
Shapley formula is the oracle, independent of the closed form under test.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics.pairwise import cosine_distances

from valuation.core.chunking import chunk_ranges, fit_chunked, partial_from_dict
from valuation.core.dataset import Dataset
from valuation.core.game import Game
from valuation.core.methods.exact import ExactShapley
from valuation.core.methods.knn import KNNShapley, classification_values
from valuation.core.result import ValuationResult


class KNNGame(Game):
    """U(S) = mean over validation points of the k-NN utility of the rows of S.

    ``visible`` (optional) limits each validation point to its nearest ``visible`` rows:
    the restricted game that truncation computes.
    """

    def __init__(self, train, valid, k, task, visible=None):
        super().__init__(len(train[1]))
        self.X, self.y = train
        self.Xv, self.yv = valid
        self.k, self.task = k, task
        # Integer features: squared distances are exact, so ties are real ties.
        self.dist = ((self.Xv[:, None, :] - self.X[None, :, :]) ** 2).sum(axis=2)
        self.visible = visible

    def _evaluate(self, players):
        total = 0.0
        for t in range(len(self.yv)):
            ranked = sorted(range(self.n_players), key=lambda j: (self.dist[t, j], j))
            seen = set(ranked[: self.visible]) if self.visible else set(ranked)
            nearest = [j for j in ranked if j in players and j in seen][: self.k]
            if self.task == "classification":
                total += sum(self.y[j] == self.yv[t] for j in nearest) / self.k
            else:
                total += -((sum(self.y[j] for j in nearest) / self.k - self.yv[t]) ** 2)
        return total / len(self.yv)


def exact_shapley(game):
    return ExactShapley().fit(game).result_.values


def line_data(labels, valid_label, task="classification"):
    """Training rows at x = 1, 2, …, one validation row at x = 0: rank = position."""
    X = np.arange(1, len(labels) + 1, dtype=float)[:, None]
    return Dataset(X, np.array(labels)), Dataset(np.zeros((1, 1)), np.array([valid_label]))


def knn_values(train, valid, **params):
    return KNNShapley(**params).fit(train, valid).result_.values


def integer_data(rng, n_train, n_valid, n_classes=2, width=3, n_features=2, task="cls"):
    X = rng.integers(0, width, size=(n_train + n_valid, n_features)).astype(float)
    if task == "cls":
        y = rng.integers(0, n_classes, size=n_train + n_valid)
    else:
        y = rng.integers(-4, 5, size=n_train + n_valid).astype(float)
    return (X[:n_train], y[:n_train]), (X[n_train:], y[n_train:])


def u_all_minus_empty(train, valid, k, task="classification"):
    """Per validation point U(D) − U(∅) of the k-NN utility, by direct sorting."""
    dist = ((valid.X[:, None, :] - train.X[None, :, :]) ** 2).sum(axis=2)
    gains = []
    for t in range(valid.n_rows):
        nearest = np.lexsort((np.arange(train.n_rows), dist[t]))[:k]
        if task == "classification":
            gains.append(np.sum(train.y[nearest] == valid.y[t]) / k)
        else:
            u_all = -((train.y[nearest].sum() / k - valid.y[t]) ** 2)
            gains.append(u_all + valid.y[t] ** 2)
    return np.array(gains)


# --- oracles O2–O5 (algorithms.md §2.9) ---------------------------------------------------


@pytest.mark.parametrize(
    ("k", "expected"), [(1, [5 / 6, -1 / 6, 1 / 3]), (2, [1 / 3, -1 / 6, 1 / 3])]
)
def test_o2_classification(k, expected):
    train, valid = line_data([1, 0, 1], 1)
    np.testing.assert_allclose(knn_values(train, valid, k=k), expected, rtol=0, atol=1e-15)


def test_o3_fewer_rows_than_k_keeps_efficiency():
    train, valid = line_data([1, 1], 1)
    values = knn_values(train, valid, k=3)
    np.testing.assert_allclose(values, [1 / 3, 1 / 3], rtol=0, atol=1e-15)
    assert values.sum() == pytest.approx(2 / 3)  # U(D) = 2 of 3 slots right; U(∅) = 0


def test_o4_closed_form():
    train, valid = line_data([1, 0, 1, 1, 0, 0, 1], 1)
    expected = [0.226190, -0.107143, 0.226190, 0.226190, -0.023810, -0.023810, 0.142857]
    np.testing.assert_allclose(knn_values(train, valid, k=3), expected, rtol=0, atol=5e-7)


@pytest.mark.parametrize(("k", "expected"), [(1, [1.0, 2.0, 0.0]), (2, [11 / 12, 7 / 6, 5 / 3])])
def test_o5_regression_with_empty_utility_minus_t_squared(k, expected):
    train, valid = line_data([1.0, 2.0, 4.0], 2.0)
    values = knn_values(train, valid, k=k, task="regression")
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-14)


# --- O9: the k-NN utility through the generic exact engine ---------------------------------


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("seed", range(12))
def test_o9_equals_exact_shapley_of_the_knn_game(task, seed):
    rng = np.random.default_rng(seed)
    n_train = int(rng.integers(1, 9))
    k = int(rng.integers(1, 6))  # k > n_train happens: the N < K case
    kind = "cls" if task == "classification" else "reg"
    train, valid = integer_data(rng, n_train, int(rng.integers(1, 4)), n_classes=3, task=kind)
    game = KNNGame(train, valid, k, task)
    values = knn_values(Dataset(*train), Dataset(*valid), k=k, task=task)
    np.testing.assert_allclose(values, exact_shapley(game), rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_truncation_is_the_exact_value_of_the_restricted_game(seed):
    """With K* < N each validation point sees only its K* nearest rows (ties by index)."""
    rng = np.random.default_rng(100 + seed)
    n_train, k = 8, int(rng.integers(1, 4))
    visible = int(rng.integers(k, n_train))
    train, valid = integer_data(rng, n_train, 3, n_classes=2)
    game = KNNGame(train, valid, k, "classification", visible=visible)
    values = knn_values(Dataset(*train), Dataset(*valid), k=k, truncation=visible)
    np.testing.assert_allclose(values, exact_shapley(game), rtol=0, atol=1e-12)


# --- properties ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(700, 5))
    y = (X[:, 0] + 0.8 * rng.normal(size=700) > 0).astype(int)
    return Dataset(X[:500], y[:500]), Dataset(X[500:], y[500:])


def test_efficiency_classification_and_regression(blobs):
    train, valid = blobs
    for task, data in (
        ("classification", (train, valid)),
        (
            "regression",
            (Dataset(train.X, train.X[:, 1] * 2.0), Dataset(valid.X, valid.X[:, 1] * 2.0)),
        ),
    ):
        values = knn_values(*data, k=7, task=task)
        assert values.sum() == pytest.approx(u_all_minus_empty(*data, 7, task).mean(), abs=1e-10)


def test_point_values_average_to_the_result_and_sum_to_each_points_gain(blobs):
    train, valid = blobs
    method = KNNShapley(k=5).fit(train, valid)
    per_point = method.point_values(np.arange(valid.n_rows))
    np.testing.assert_allclose(per_point.mean(axis=0), method.result_.values, atol=1e-15)
    np.testing.assert_allclose(
        per_point.sum(axis=1), u_all_minus_empty(train, valid, 5), atol=1e-12
    )
    # stderr is the spread of the per-point values over the validation set.
    expected = per_point.std(axis=0, ddof=1) / np.sqrt(valid.n_rows)
    np.testing.assert_allclose(method.result_.stderr, expected, rtol=1e-6, atol=1e-12)
    # Any subset, in any order, gives the same rows.
    picked = [17, 3, 150]
    np.testing.assert_allclose(method.point_values(picked), per_point[picked], atol=1e-15)


def test_chunked_equals_unchunked_through_json(blobs):
    train, valid = blobs
    method = KNNShapley(k=5)
    whole = method.fit(train, valid).result_
    assert method.n_units(train, valid) == valid.n_rows
    partials = [
        partial_from_dict(method.fit_chunk(train, valid, start=a, stop=b).to_dict())
        for a, b in chunk_ranges(valid.n_rows, 37)
    ]
    merged = method.reduce(sum(partials[::-1]))
    np.testing.assert_allclose(merged.values, whole.values, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(merged.counts, whole.counts)
    np.testing.assert_allclose(merged.sum_sq_dev, whole.sum_sq_dev, rtol=1e-9, atol=1e-15)
    chunked = fit_chunked(method, train, valid, chunks=[(0, 1), (1, 1), (1, 150), (150, 200)])
    np.testing.assert_allclose(chunked.values, whole.values, rtol=0, atol=1e-15)


def test_batch_size_does_not_change_values(blobs):
    train, valid = blobs
    reference = knn_values(train, valid, k=4)
    for batch_size in (1, 13, 1000):
        np.testing.assert_allclose(
            knn_values(train, valid, k=4, batch_size=batch_size), reference, atol=1e-15
        )


def test_group_values_are_sums_of_row_values(blobs):
    train, valid = blobs
    rng = np.random.default_rng(3)
    groups = rng.choice(["p", "q", "r", "s"], size=train.n_rows)
    grouped = Dataset(train.X, train.y, groups=groups)
    rows = KNNShapley(k=5).fit(train, valid)
    method = KNNShapley(k=5).fit(grouped, valid)
    expected = [rows.result_.values[grouped.player_of_row == p].sum() for p in range(4)]
    np.testing.assert_allclose(method.result_.values, expected, atol=1e-14)
    per_point = method.point_values(np.arange(valid.n_rows))
    assert per_point.shape == (valid.n_rows, 4)
    row_points = rows.point_values(np.arange(valid.n_rows))
    for p in range(4):
        np.testing.assert_allclose(
            per_point[:, p], row_points[:, grouped.player_of_row == p].sum(axis=1), atol=1e-14
        )


@pytest.mark.parametrize("keep", [5, 40, 200])
def test_truncation_error_within_bound_and_efficiency_kept(blobs, keep):
    train, valid = blobs
    exact = KNNShapley(k=5).fit(train, valid)
    truncated = KNNShapley(k=5, truncation=keep).fit(train, valid)
    n = train.n_rows
    bound = max(1 / keep - 1 / n, 1 / (keep + 1))
    np.testing.assert_allclose(truncated.truncation_error_bound_, bound)
    assert (exact.truncation_error_bound_ == 0).all()
    error = np.abs(truncated.result_.values - exact.result_.values)
    assert (error <= truncated.truncation_error_bound_ + 1e-15).all()
    assert error.max() > 0  # the truncation did something
    assert truncated.result_.values.sum() == pytest.approx(exact.result_.values.sum(), abs=1e-12)
    # Per point as well: the bound holds for every validation row.
    diff = truncated.point_values(range(50)) - exact.point_values(range(50))
    assert np.abs(diff).max() <= bound + 1e-15


def test_truncation_bound_for_groups(blobs):
    train, valid = blobs
    groups = np.arange(train.n_rows) % 3
    grouped = Dataset(train.X, train.y, groups=groups)
    exact = KNNShapley(k=5).fit(grouped, valid).result_.values
    truncated = KNNShapley(k=5, truncation=30).fit(grouped, valid)
    error = np.abs(truncated.result_.values - exact)
    assert (error <= truncated.truncation_error_bound_).all()
    # 166 or 167 rows × max(1/30 − 1/500, 1/31) exceeds one point's whole error, which caps it.
    n, keep = train.n_rows, 30
    whole_point = (1 - keep / n) + sum(1 / i for i in range(keep + 1, n + 1))
    np.testing.assert_allclose(truncated.truncation_error_bound_, whole_point, rtol=1e-12)


@pytest.mark.parametrize(("width", "n_features"), [(4, 3), (2, 2)])
def test_truncated_selection_with_massive_ties_matches_exact_ranking(width, n_features):
    """Few distinct points, many duplicates: the K* nearest are chosen by (distance, index).

    Per validation point the truncated value differs from the exact one by the same
    constant on its K* nearest rows (the missing tail sum) and is 0 elsewhere. With four
    distinct points, hundreds of rows tie within the threshold and candidates are pruned
    while scanning.
    """
    rng = np.random.default_rng(11)
    (X, y), (Xv, yv) = integer_data(rng, 3000, 40, width=width, n_features=n_features)
    train, valid = Dataset(X, y), Dataset(Xv, yv)
    keep = 60  # 16·N/K* < N: the sampled-threshold path
    exact = KNNShapley(k=3).fit(train, valid).point_values(range(valid.n_rows))
    truncated = KNNShapley(k=3, truncation=keep).fit(train, valid).point_values(range(40))
    dist = ((Xv[:, None, :] - X[None, :, :]) ** 2).sum(axis=2)
    for t in range(valid.n_rows):
        nearest = np.lexsort((np.arange(3000), dist[t]))[:keep]
        outside = np.setdiff1d(np.arange(3000), nearest)
        assert (truncated[t, outside] == 0).all()
        shift = truncated[t, nearest] - exact[t, nearest]
        np.testing.assert_allclose(shift, shift[0], atol=1e-14)
        assert shift[0] >= -1e-15


def test_truncation_correct_when_the_threshold_sample_misleads():
    """Rows sampled for the threshold are the nearest ones: every point is redone exactly."""
    n, keep = 2000, 100
    sampled = np.arange(16 * n // keep) * n // (16 * n // keep)
    X = np.full((n, 2), 10.0) + np.arange(n)[:, None] * 1e-3
    X[sampled] = np.arange(sampled.size)[:, None] * 1e-4
    y = np.arange(n) % 2
    valid = Dataset(np.zeros((3, 2)), np.array([0, 1, 1]))
    train = Dataset(X, y)
    exact = KNNShapley(k=2).fit(train, valid).point_values(range(3))
    truncated = KNNShapley(k=2, truncation=keep).fit(train, valid).point_values(range(3))
    nearest = np.argsort(((X - 0.0) ** 2).sum(axis=1), kind="stable")[:keep]
    assert (np.delete(truncated, nearest, axis=1) == 0).all()
    shift = truncated[:, nearest] - exact[:, nearest]
    np.testing.assert_allclose(shift, shift[:, :1].repeat(keep, axis=1), atol=1e-14)


def test_ties_are_broken_by_lower_training_index():
    # Rows 0 and 1 are the same point; with k=1 only the first of them can hold the slot.
    train = Dataset(np.array([[1.0], [1.0], [2.0]]), np.array([0, 1, 1]))
    valid = Dataset(np.zeros((1, 1)), np.array([1]))
    values = knn_values(train, valid, k=1)
    # Rank order (row 0, row 1, row 2), so a = (0, 1, 1) and s = (−2/3, 1/3, 1/3).
    np.testing.assert_allclose(values, [-2 / 3, 1 / 3, 1 / 3], atol=1e-15)
    swapped = Dataset(train.X, np.array([1, 0, 1]))  # a = (1, 0, 1): oracle O2
    np.testing.assert_allclose(knn_values(swapped, valid, k=1), [5 / 6, -1 / 6, 1 / 3], atol=1e-15)


def test_distances_closer_than_the_sort_key_resolution_are_ranked_exactly():
    # Squared distances 1 + 2e-5 (row 0) and 1 (row 1) share a 32-bit key when the range is
    # 1e12 (row 2): the key alone would rank row 0 first, by index.
    train = Dataset(np.array([[1.00001], [1.0], [1e6]]), np.array([1, 0, 1]))
    valid = Dataset(np.zeros((1, 1)), np.array([1]))
    # True ranks: row 1, row 0, row 2, so a = (0, 1, 1) and s = (−2/3, 1/3, 1/3) by rank.
    np.testing.assert_allclose(knn_values(train, valid, k=1), [1 / 3, -2 / 3, 1 / 3], atol=1e-15)


def test_cosine_metric_ranks_by_cosine_distance():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(120, 4))
    y = rng.integers(0, 3, 120)
    train, valid = Dataset(X[:100], y[:100]), Dataset(X[100:], y[100:])
    values = knn_values(train, valid, k=3, metric="cosine")
    dist = cosine_distances(valid.X, train.X)
    order = np.argsort(dist, axis=1, kind="stable")
    matches = train.y[order] == valid.y[:, None]
    per_point = np.zeros((20, 100))
    np.put_along_axis(per_point, order, classification_values(matches, 3), axis=1)
    np.testing.assert_allclose(values, per_point.mean(axis=0), atol=1e-15)
    # Scaling rows changes no cosine distance.
    scaled = Dataset(X[:100] * rng.uniform(0.5, 3, size=(100, 1)), y[:100])
    np.testing.assert_allclose(knn_values(scaled, valid, k=3, metric="cosine"), values, atol=1e-15)


def test_labels_of_any_type(blobs):
    train, valid = blobs
    names = np.array(["no", "yes"], dtype=object)
    as_text = knn_values(Dataset(train.X, names[train.y]), Dataset(valid.X, names[valid.y]), k=3)
    np.testing.assert_allclose(as_text, knn_values(train, valid, k=3), atol=0)


def test_progress_is_monotone_and_ends_at_one(blobs):
    train, valid = blobs
    seen = []
    KNNShapley(k=3, batch_size=40, progress=lambda f, info: seen.append((f, info))).fit(
        train, valid
    )
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) == 5
    assert seen[-1][1]["method"] == "knn-shapley" and seen[-1][1]["n_units_done"] == 200


def test_result_contract(blobs):
    train, valid = blobs
    method = KNNShapley(k=3).fit(train, valid)
    assert method.n_utility_evaluations_ == 0
    assert method.result_.method == "knn-shapley"
    assert (method.result_.counts == valid.n_rows).all()
    assert list(method.result_.names[:3]) == ["0", "1", "2"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"k": 0}, "k must be"),
        ({"task": "ranking"}, "task must be"),
        ({"metric": "manhattan"}, "metric must be"),
        ({"truncation": 2, "k": 3}, "truncation must be"),
        ({"truncation": 10, "task": "regression"}, "classification only"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_parameters_are_refused(blobs, params, message):
    train, valid = blobs
    with pytest.raises(ValueError, match=message):
        KNNShapley(**params).fit(train, valid)


def test_bad_inputs_are_refused(blobs):
    train, valid = blobs
    with pytest.raises(ValueError, match="needs validation data"):
        KNNShapley().fit(train)
    with pytest.raises(ValueError, match="no baseline"):
        KNNShapley().fit(train, valid, baseline=valid)
    with pytest.raises(ValueError, match="feature columns"):
        KNNShapley().fit(train, Dataset(valid.X[:, :2], valid.y))
    with pytest.raises(ValueError, match="all zeros"):
        KNNShapley(metric="cosine").fit(Dataset(np.zeros((3, 5)), [0, 1, 0]), valid)
    with pytest.raises(ValueError, match="numeric labels"):
        KNNShapley(task="regression").fit(Dataset(train.X, np.where(train.y, "a", "b")), valid)
    with pytest.raises(ValueError, match="outside"):
        KNNShapley().fit_chunk(train, valid, start=0, stop=valid.n_rows + 1)
    with pytest.raises(ValueError, match="call fit"):
        KNNShapley().point_values([0])
    with pytest.raises(ValueError, match="must lie in"):
        KNNShapley().fit(train, valid).point_values([valid.n_rows])
    with pytest.raises(ValueError, match="pass valid"):
        KNNShapley().n_units(train)
    with pytest.raises(ValueError, match="reduces"):
        KNNShapley().reduce(ValuationResult.empty(["a"], "data-oob"))
    with pytest.raises(ValueError, match="must be a Dataset"):
        KNNShapley().fit(train.X, valid)
