"""Manipulation screens: similarity axioms, replicas found, poisoned rows and triggers flagged."""

from __future__ import annotations

import json
import tracemalloc
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import cdist
from sklearn.datasets import make_classification
from sklearn.metrics import roc_auc_score

from valuation.core import detection
from valuation.core.dataset import Dataset
from valuation.core.detection import (
    PoisonScreen,
    dataset_similarity,
    near_duplicate_rows,
    nearest_distances,
    nearest_rows,
    row_hashes,
    similarity_matrix,
)

finite = st.floats(-100, 100, allow_nan=False, width=32)


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 12), st.just(4)), elements=finite),
    arrays(np.float64, st.tuples(st.integers(1, 12), st.just(4)), elements=finite),
)
def test_similarity_is_a_symmetric_score_in_unit_interval_and_one_on_itself(A, B):
    ab, ba = dataset_similarity(A, B), dataset_similarity(B, A)
    assert 0 <= ab <= 1
    assert ab == ba
    assert dataset_similarity(A, A) == 1.0
    assert dataset_similarity(B, B) == 1.0


def _features(seed: int, n: int = 150, d: int = 10) -> np.ndarray:
    return make_classification(n_samples=n, n_features=d, random_state=seed)[0]


def test_a_noisy_replica_scores_near_one_and_independent_data_low():
    rng = np.random.default_rng(0)
    A = _features(0)
    replica = rng.permutation(A + 0.01 * A.std(axis=0) * rng.normal(size=A.shape))
    independent = _features(1)
    assert dataset_similarity(A, replica) > 0.95
    assert dataset_similarity(A, independent) < 0.05
    # Half of B copied from A: about half the rows of either side are near duplicates.
    half = np.concatenate([A[:75], independent[:75]])
    assert 0.3 < dataset_similarity(A, half) < 0.7


def test_similarity_matrix_for_pricing():
    A, B = _features(2), _features(3)
    matrix = similarity_matrix([A, B, A.copy()])
    assert np.array_equal(matrix, matrix.T)
    assert np.all(np.diag(matrix) == 1)
    assert matrix[0, 2] == 1.0 and matrix[0, 1] < 0.05


def test_exact_rows_match_even_at_the_mean_and_hashes_ignore_signed_zero():
    A = np.array([[0.0, 0.0], [1.0, 2.0], [-1.0, -2.0]])
    B = np.array([[-0.0, 0.0], [5.0, -7.0]])
    in_b, in_a = near_duplicate_rows(A, B)
    assert in_b[0] and in_a[0]
    assert row_hashes(A)[0] == row_hashes(B)[0]
    with pytest.raises(ValueError):
        near_duplicate_rows(A, np.zeros((2, 3)))


def _poisoned(kind: str, seed: int = 0):
    X, y = make_classification(n_samples=500, n_features=10, n_informative=6, random_state=seed)
    rng = np.random.default_rng(seed)
    X_train, y_train = X[:320].copy(), y[:320].copy()
    bad = rng.choice(320, 32, replace=False)
    if kind == "flip":
        y_train[bad] = 1 - y_train[bad]
    else:  # a trigger: three features set to one value, all labelled with the target class
        X_train[np.ix_(bad, [0, 1, 2])] = 3.0
        y_train[bad] = 1
    is_bad = np.zeros(320, dtype=bool)
    is_bad[bad] = True
    return Dataset(X_train, y_train), Dataset(X[320:], y[320:]), is_bad


def test_label_flips_are_flagged():
    upload, valid, is_bad = _poisoned("flip")
    screen = PoisonScreen(random_state=0).fit(upload, valid)
    assert roc_auc_score(is_bad, -screen.scores_) > 0.8
    assert len(screen.flagged_) == 32
    assert is_bad[screen.flagged_].mean() > 0.4


def test_a_planted_backdoor_is_flagged():
    upload, valid, is_bad = _poisoned("trigger")
    screen = PoisonScreen(methods=("lava",), random_state=0).fit(upload, valid)
    assert roc_auc_score(is_bad, -screen.scores_) > 0.9
    assert is_bad[screen.flagged_].mean() > 0.6


@pytest.mark.parametrize("d", [2, 3, 5])
def test_similarity_means_the_same_in_few_dimensions(d):
    rng = np.random.default_rng(d)
    A, independent = rng.normal(size=(200, d)), rng.normal(size=(200, d))
    copy = rng.permutation(A + 0.01 * rng.normal(size=A.shape))
    # Independent draws of one distribution: about ln 2 · 0.25^d of rows by chance.
    assert dataset_similarity(A, independent) < 0.1
    assert dataset_similarity(A, copy) > 0.95


def test_a_single_row_borrows_the_other_datasets_spacing():
    A = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    near = np.array([[0.01, 0.0]])
    far = np.array([[0.5, 0.5]])
    assert near_duplicate_rows(near, A)[0].tolist() == [True]
    assert near_duplicate_rows(far, A)[0].tolist() == [False]
    assert dataset_similarity(near, near) == 1.0


def test_a_sampled_similarity_estimates_the_exact_one():
    rng = np.random.default_rng(7)
    A = rng.normal(size=(600, 4))
    half_copy = np.concatenate(
        [A[:300] + 0.001 * rng.normal(size=(300, 4)), rng.normal(size=(300, 4))]
    )
    exact = dataset_similarity(A, half_copy)
    sampled = dataset_similarity(A, half_copy, max_rows=150, random_state=0)
    assert 0.45 < exact < 0.55
    # Every asked row is compared with all rows of the other side: no dilution by sampling.
    assert abs(sampled - exact) < 0.1
    in_b, in_a = near_duplicate_rows(A, half_copy, max_rows=150, random_state=0)
    assert in_b.shape == in_a.shape == (150,)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.tuples(st.integers(1, 23), st.integers(0, 23), st.integers(1, 3)),
    block=st.integers(1, 9),
    seed=st.integers(0, 2**32 - 1),
)
def test_nearest_rows_tiled_on_both_sides_match_brute_force(sizes, block, seed):
    n_q, n_x, d = sizes
    rng = np.random.default_rng(seed)
    # Small integers: many exact ties, which must go to the lower index.
    Q = rng.integers(-2, 3, (n_q, d)).astype(float)
    X = rng.integers(-2, 3, (n_x, d)).astype(float)
    skip = rng.integers(0, max(n_x, 1), n_q) if n_x else None
    with mock.patch.object(detection, "_BLOCK", block):
        distance, index = nearest_rows(Q, X, skip=skip)
    full = cdist(Q, X, "sqeuclidean") if n_x else np.empty((n_q, 0))
    if skip is not None:
        full[np.arange(n_q), skip] = np.inf
    for i in range(n_q):
        finite = np.isfinite(full[i])
        if not finite.any():
            assert index[i] == -1 and distance[i] == np.inf
            continue
        assert index[i] == int(np.argmin(full[i]))
        assert distance[i] == pytest.approx(np.sqrt(full[i].min()), abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.tuples(st.integers(1, 23), st.integers(1, 40), st.integers(1, 3)),
    within=st.one_of(st.none(), st.floats(0.0, 3.0)),
    seed=st.integers(0, 2**32 - 1),
)
def test_nearest_rows_by_tree_match_brute_force_ties_and_bound_included(sizes, within, seed):
    n_q, n_x, d = sizes
    rng = np.random.default_rng(seed)
    # Small integers: repeated rows and distinct rows equally near, both to the lower index.
    Q = rng.integers(-2, 3, (n_q, d)).astype(float)
    X = rng.integers(-2, 3, (n_x, d)).astype(float)
    distance, index = nearest_rows(Q, X, within=within)
    full = np.sqrt(cdist(Q, X, "sqeuclidean"))
    for i in range(n_q):
        best = full[i].min()
        if within is not None and best > within * (1 + 1e-9):
            assert index[i] == -1 and distance[i] == np.inf
            continue
        assert index[i] == int(np.argmin(full[i]))
        assert distance[i] == pytest.approx(best, abs=1e-9)


@settings(max_examples=80, deadline=None)
@given(
    sizes=st.tuples(st.integers(1, 23), st.integers(1, 40), st.integers(1, 3)),
    within=st.one_of(st.none(), st.floats(0.0, 3.0)),
    skipping=st.sampled_from(["none", "itself", "any row"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_nearest_distances_by_tree_match_brute_force(sizes, within, skipping, seed):
    n_q, n_x, d = sizes
    rng = np.random.default_rng(seed)
    # Small integers: repeated rows, so a skipped row often has a copy at distance 0.
    X = rng.integers(-2, 3, (n_x, d)).astype(float)
    skip = None if skipping == "none" else rng.integers(0, n_x, n_q)
    Q = X[skip] if skipping == "itself" else rng.integers(-2, 3, (n_q, d)).astype(float)
    distance = nearest_distances(Q, X, skip=skip, within=within)
    full = np.sqrt(cdist(Q, X, "sqeuclidean"))
    if skip is not None:
        full[np.arange(n_q), skip] = np.inf
    best = full.min(axis=1)
    near = np.isfinite(best) if within is None else best <= within
    assert np.allclose(distance[near], best[near], rtol=0, atol=1e-9)
    # Farther than within: the distance, or inf (all a caller comparing with within needs).
    far = ~near
    assert np.all((distance[far] == np.inf) | np.isclose(distance[far], best[far], atol=1e-9))


def test_nearest_rows_memory_is_bounded_by_the_block_not_the_data():
    rng = np.random.default_rng(0)
    Q, X = rng.normal(size=(2_100, 4)), rng.normal(size=(40_000, 4))
    tracemalloc.start()
    try:
        with mock.patch.object(detection, "TREE_MAX_FEATURES", 0):  # the blocks, not the tree
            nearest_rows(Q, X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Whole rows of distances would be 2,048 × 40,000 float64 (655 MB) at a time.
    assert peak < 160 * 2**20, f"peak {peak / 2**20:.0f} MiB"


def test_a_screening_verdict_round_trips_and_refuses_another_version():
    findings = detection.Findings()
    detection.screen_similarity({"7": 0.49}, detection.ScreeningRules(), findings)
    assert not findings.held
    assert findings.numbers == detection.ScreenNumbers(similar_to={"7": 0.49})
    detection.screen_similarity({"7": 0.49, "9": 0.8}, detection.ScreeningRules(), findings)
    assert findings.held and "similarity 0.80 ≥ 0.5" in findings.reasons[0]
    assert "7" not in findings.reasons[0] and "9" not in findings.reasons[0]  # names no one
    stored = findings.to_dict()
    assert detection.Findings.from_dict(stored) == findings
    with pytest.raises(ValueError, match="version 1; this reads 2"):
        detection.Findings.from_dict({**stored, "version": 1})
    with pytest.raises(ValueError, match="unknown keys of ScreenNumbers: report"):
        detection.Findings.from_dict({**stored, "numbers": {**stored["numbers"], "report": {}}})


screen_numbers = st.builds(
    detection.ScreenNumbers,
    similar_to=st.dictionaries(st.from_regex(r"[0-9]{1,4}", fullmatch=True), st.floats(0, 1)),
    label_flips=st.none()
    | st.builds(detection.LabelFlips, st.just("none"), skipped=st.text(min_size=1))
    | st.builds(
        detection.LabelFlips,
        st.sampled_from(["other providers", "cross-fitted"]),
        flagged_rows=st.integers(0, 10_000),
        change_points=st.floats(-100, 100),
        p_value=st.floats(0, 1),
    ),
    trigger=st.none()
    | st.builds(
        detection.Trigger,
        column=st.text(),
        value=st.floats(allow_nan=False, allow_infinity=False),
        z=st.floats(0, 1e6),
        rows=st.integers(2, 10_000),
        label=st.booleans() | st.integers() | st.text(),
        label_share=st.floats(0, 1),
    ),
)


@given(screen_numbers, st.lists(st.text(min_size=1), max_size=3))
def test_what_the_screens_measured_round_trips_through_json(numbers, reasons):
    findings = detection.Findings(reasons, numbers)
    assert detection.Findings.from_dict(json.loads(json.dumps(findings.to_dict()))) == findings
