"""DataOOB against oracle O6 (explicit bags, hand-computed values) and its promises.

The learners of O6 are written here: the majority label of the bag (ties to the smaller
label) and the mean of the bag.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from valuation.core.chunking import chunk_ranges, fit_chunked, partial_from_dict
from valuation.core.dataset import Dataset
from valuation.core.methods.oob import DataOOB
from valuation.core.result import ValuationResult

# Bags of algorithms.md §4.6 (multisets of row indices).
O6_BAGS = [[0, 0, 1, 3], [1, 2, 2, 3], [0, 1, 2, 2], [3, 3, 3, 0], [0, 1, 3, 3], [2, 3, 3, 1]]


class MajorityLabel(ClassifierMixin, BaseEstimator):
    """Predicts the most frequent training label; ties go to the smaller label."""

    def fit(self, X, y):
        labels, counts = np.unique(y, return_counts=True)
        self.label_ = labels[np.argmax(counts)]
        return self

    def predict(self, X):
        return np.full(len(X), self.label_)


class WeightedMajorityLabel(ClassifierMixin, BaseEstimator):
    """MajorityLabel over sample weights: DataOOB hands it each in-bag row once, weighted."""

    def fit(self, X, y, sample_weight=None):
        labels, codes = np.unique(y, return_inverse=True)
        self.label_ = labels[np.argmax(np.bincount(codes, weights=sample_weight))]
        return self

    def predict(self, X):
        return np.full(len(X), self.label_)


class BagMean(RegressorMixin, BaseEstimator):
    """Predicts the mean training label."""

    def fit(self, X, y):
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


class SeedRecorder(ClassifierMixin, BaseEstimator):
    """Majority label that also records the random_state it was given."""

    seen: list = []

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        SeedRecorder.seen.append(self.random_state)
        self.label_ = np.unique(y)[0]
        return self

    def predict(self, X):
        return np.full(len(X), self.label_)


def test_o6_classification():
    train = Dataset(np.zeros((4, 1)), np.array([0, 0, 0, 1]))
    method = DataOOB(base=MajorityLabel(), bags=O6_BAGS, random_state=0).fit(train)
    np.testing.assert_allclose(method.result_.values, [1, 0, 2 / 3, 0], atol=1e-15)
    np.testing.assert_array_equal(method.result_.counts, [2, 1, 3, 1])
    assert method.n_utility_evaluations_ == 6


def test_o6_with_sample_weights_instead_of_repeated_rows():
    train = Dataset(np.zeros((4, 1)), np.array([0, 0, 0, 1]))
    method = DataOOB(base=WeightedMajorityLabel(), bags=O6_BAGS, random_state=0).fit(train)
    np.testing.assert_allclose(method.result_.values, [1, 0, 2 / 3, 0], atol=1e-15)


@pytest.mark.parametrize("grouped", [False, True])
def test_weighted_and_repeated_rows_give_the_same_values(grouped):
    rng = np.random.default_rng(12)
    X = rng.normal(size=(40, 2))
    y = rng.integers(0, 3, 40)
    groups = rng.integers(0, 9, 40) if grouped else None
    train = Dataset(X, y, groups=groups)
    baseline = Dataset(rng.normal(size=(5, 2)), rng.integers(0, 3, 5))
    runs = [
        DataOOB(base=base, n_estimators=15, max_samples=0.7, random_state=4).fit(
            train, baseline=baseline
        )
        for base in (MajorityLabel(), WeightedMajorityLabel())
    ]
    np.testing.assert_array_equal(runs[0].result_.values, runs[1].result_.values)
    np.testing.assert_array_equal(runs[0].result_.counts, runs[1].result_.counts)


def test_o6_regression():
    train = Dataset(np.zeros((4, 1)), np.array([1.0, 2.0, 3.0, 10.0]))
    method = DataOOB(base=BagMean(), bags=O6_BAGS, random_state=0).fit(train)
    np.testing.assert_allclose(
        method.result_.values, [-19.90625, -33.0625, -10.125, -60.0625], atol=1e-12
    )
    # Point 0 is out of bags 2 and 6 (means 4.5 and 6.25): its two scores spread as follows.
    scores = np.array([-(3.5**2), -(5.25**2)])
    assert method.result_.sum_sq_dev[0] == pytest.approx(((scores - scores.mean()) ** 2).sum())


def test_baseline_rows_join_every_bag():
    train = Dataset(np.zeros((4, 1)), np.array([0, 0, 0, 1]))
    baseline = Dataset(np.zeros((3, 1)), np.array([1, 1, 1]))
    method = DataOOB(base=MajorityLabel(), bags=O6_BAGS, random_state=0)
    values = method.fit(train, baseline=baseline).result_.values
    # Each learner sees its bag plus the three 1-labelled baseline rows.
    predictions = []
    for bag in O6_BAGS:
        labels = np.concatenate([train.y[bag], baseline.y])
        predictions.append(int(np.bincount(labels).argmax()))
    expected = []
    for point in range(4):
        hits = [
            predictions[b] == train.y[point] for b, bag in enumerate(O6_BAGS) if point not in bag
        ]
        expected.append(np.mean(hits))
    np.testing.assert_allclose(values, expected, atol=1e-15)
    assert values.tolist() != [1, 0, 2 / 3, 0]  # the baseline changed the learners (O6)


def test_group_bags_score_groups_by_their_rows_mean():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(12, 2))
    y = np.array([0, 0, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1])
    groups = np.array(["a", "a", "b", "b", "b", "c", "c", "d", "d", "d", "e", "e"])
    train = Dataset(X, y, groups=groups)
    bags = [[0, 0, 1, 2], [1, 3, 3, 4], [2, 4, 0, 0], [4, 4, 4, 3], [0, 1, 2, 3]]
    values = DataOOB(base=MajorityLabel(), bags=bags, random_state=0).fit(train).result_
    members = [np.flatnonzero(train.player_of_row == p) for p in range(5)]
    expected, counts = [], []
    for p in range(5):
        scores = []
        for bag in bags:
            if p in bag:
                continue
            rows = np.concatenate([members[q] for q in bag])
            label = MajorityLabel().fit(X[rows], y[rows]).label_
            scores.append(np.mean(y[members[p]] == label))
        expected.append(np.mean(scores))
        counts.append(len(scores))
    np.testing.assert_allclose(values.values, expected, atol=1e-15)
    np.testing.assert_array_equal(values.counts, counts)


@pytest.fixture(scope="module")
def noisy():
    """Breast cancer with 10% of the labels flipped."""
    X, y = load_breast_cancer(return_X_y=True)
    rng = np.random.default_rng(0)
    flipped = rng.choice(len(y), size=len(y) // 10, replace=False)
    y = y.copy()
    y[flipped] = 1 - y[flipped]
    return Dataset(X, y), flipped


def test_reproducible_from_a_seed_and_seed_matters(noisy):
    train, _ = noisy
    first = DataOOB(n_estimators=20, random_state=5).fit(train)
    again = DataOOB(n_estimators=20, random_state=5).fit(train)
    other = DataOOB(n_estimators=20, random_state=6).fit(train)
    np.testing.assert_array_equal(first.result_.values, again.result_.values)
    np.testing.assert_array_equal(first.result_.counts, again.result_.counts)
    assert not np.array_equal(first.result_.values, other.result_.values)
    assert first.seed_ == 5
    fresh = DataOOB(n_estimators=3).fit(train)
    np.testing.assert_array_equal(
        fresh.result_.values,
        DataOOB(n_estimators=3, random_state=fresh.seed_).fit(train).result_.values,
    )


def test_chunked_equals_unchunked(noisy):
    train, _ = noisy
    method = DataOOB(n_estimators=24, random_state=9)
    whole = method.fit(train).result_
    assert method.n_units(train) == 24
    partials = [
        partial_from_dict(method.fit_chunk(train, start=a, stop=b).to_dict())
        for a, b in chunk_ranges(24, 5)
    ]
    merged = method.reduce(sum(partials[::-1]))
    np.testing.assert_allclose(merged.values, whole.values, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(merged.counts, whole.counts)
    np.testing.assert_allclose(merged.sum_sq_dev, whole.sum_sq_dev, rtol=1e-10, atol=1e-12)
    also = fit_chunked(method, train, chunks=[(0, 0), (0, 11), (11, 24)])
    np.testing.assert_allclose(also.values, whole.values, rtol=0, atol=1e-14)


def test_rows_never_out_of_bag_get_count_zero_and_the_mean_value():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    method = DataOOB(n_estimators=2, random_state=1).fit(Dataset(X, y))
    result = method.result_
    never = result.counts == 0
    assert never.any() and (~never).any()  # 2 bags: ~40% of rows are in both
    np.testing.assert_array_equal(method.never_out_of_bag_, never)
    assert np.isfinite(result.values).all()
    np.testing.assert_allclose(result.values[never], result.values[~never].mean())
    assert np.isinf(result.stderr[never]).all()


def test_a_row_in_every_bag_is_never_out_of_bag():
    train = Dataset(np.zeros((4, 1)), np.array([0, 0, 0, 1]))
    bags = [[0, 1, 1, 2], [0, 3, 3, 3], [0, 0, 2, 1]]
    method = DataOOB(base=MajorityLabel(), bags=bags, random_state=0).fit(train)
    assert method.never_out_of_bag_.tolist() == [True, False, False, False]
    assert method.result_.counts[0] == 0
    others = method.result_.values[1:]
    assert method.result_.values[0] == pytest.approx(others.mean())
    # Every player in every bag: no information at all, value 0 by the rule, no NaN.
    everywhere = DataOOB(base=MajorityLabel(), bags=[[0, 1, 2, 3]], random_state=0).fit(train)
    assert everywhere.result_.values.tolist() == [0.0, 0.0, 0.0, 0.0]


def test_flipped_labels_score_low(noisy):
    train, flipped = noisy
    values = DataOOB(n_estimators=60, random_state=0).fit(train).result_.values
    is_flipped = np.isin(np.arange(train.n_rows), flipped)
    assert roc_auc_score(is_flipped, -values) > 0.85


def test_regression_values_are_negative_squared_errors():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=200)
    y[:10] += 8.0  # gross label errors
    method = DataOOB(n_estimators=40, random_state=3).fit(Dataset(X, y))
    values = method.result_.values
    assert (values <= 0).all()
    assert set(np.argsort(values)[:10]) == set(range(10))


def test_every_random_state_parameter_is_seeded_per_bag():
    SeedRecorder.seen = []
    train = Dataset(np.zeros((10, 1)), np.arange(10) % 2)
    DataOOB(base=SeedRecorder(), n_estimators=4, random_state=0).fit(train)
    assert len(SeedRecorder.seen) == 4 and len(set(SeedRecorder.seen)) == 4
    assert all(isinstance(seed, int) for seed in SeedRecorder.seen)


def test_max_samples_sets_the_bag_size():
    rng = np.random.default_rng(1)
    train = Dataset(rng.normal(size=(100, 2)), rng.integers(0, 2, 100))
    small = DataOOB(n_estimators=30, max_samples=0.2, random_state=0).fit(train).result_
    also = DataOOB(n_estimators=30, max_samples=20, random_state=0).fit(train).result_
    np.testing.assert_array_equal(small.values, also.values)
    # A bag of 20 draws misses at least 80 of 100 rows.
    assert small.counts.sum() >= 30 * 80


def test_task_follows_base_then_labels():
    X = np.random.default_rng(0).normal(size=(30, 2))
    y = np.linspace(0.0, 1.0, 30)
    auto = DataOOB(n_estimators=5, random_state=0)
    assert auto._task(Dataset(X, y)) == "regression"  # float labels
    assert auto._task(Dataset(X, (y > 0.5).astype(int))) == "classification"
    logistic = DataOOB(base=LogisticRegression(), n_estimators=5, random_state=0)
    assert logistic._task(Dataset(X, y.round())) == "classification"  # the base decides
    regression = auto.fit(Dataset(X, y)).result_.values
    assert (regression <= 0).all() and (regression < 0).any()
    accuracy = auto.fit(Dataset(X, (y > 0.5).astype(int))).result_.values
    assert ((accuracy >= 0) & (accuracy <= 1)).all()


def test_progress_counts_bags():
    seen = []
    train = Dataset(np.zeros((4, 1)), np.array([0, 0, 0, 1]))
    DataOOB(
        base=MajorityLabel(), bags=O6_BAGS, random_state=0, progress=lambda f, i: seen.append(f)
    ).fit(train)
    assert seen == sorted(seen) and len(seen) == 6 and seen[-1] == 1.0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_estimators": 0}, "n_estimators"),
        ({"max_samples": 0}, "at least 1"),
        ({"max_samples": 1.5}, r"\(0, 1\]"),
        ({"max_samples": True}, "int or a float"),
        ({"task": "ranking"}, "task must be"),
        ({"bags": []}, "bags is empty"),
        ({"bags": [[0, 9]]}, "outside"),
        ({"bags": [[]]}, "non-empty"),
    ],
)
def test_bad_parameters_are_refused(params, message):
    train = Dataset(np.zeros((4, 1)), np.array([0, 0, 0, 1]))
    with pytest.raises(ValueError, match=message):
        DataOOB(random_state=0, **params).fit(train)


def test_bad_inputs_are_refused():
    train = Dataset(np.zeros((4, 1)), np.array([0, 0, 0, 1]))
    with pytest.raises(ValueError, match="integer random_state"):
        DataOOB().fit_chunk(train, start=0, stop=1)
    with pytest.raises(ValueError, match="outside"):
        DataOOB(n_estimators=3, random_state=0).fit_chunk(train, start=0, stop=4)
    with pytest.raises(ValueError, match="feature columns"):
        DataOOB(random_state=0).fit(train, baseline=Dataset(np.zeros((2, 2)), [0, 1]))
    with pytest.raises(ValueError, match="must be a Dataset"):
        DataOOB(random_state=0).fit(np.zeros((4, 1)))
    with pytest.raises(ValueError, match="reduces"):
        DataOOB().reduce(ValuationResult.empty(["a"], "knn-shapley"))
