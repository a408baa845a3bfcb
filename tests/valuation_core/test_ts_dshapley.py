"""TS-DShapley: the oracles of algorithms.md §6.5, coverage, stratification, chunking."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from valuation.core import Dataset, MaxSamples, fit_chunked
from valuation.core.games import AdditiveGame, GloveGame
from valuation.core.methods.permutation import PermutationShapley
from valuation.core.methods.ts_dshapley import TransferredShapley


def _data(seed: int, n: int, flip: float = 0.0):
    X, y = make_classification(
        n, 4, n_informative=3, n_redundant=0, class_sep=1.5, flip_y=0, random_state=seed
    )
    flipped = np.random.default_rng(seed).random(n) < flip
    return X, np.where(flipped, 1 - y, y), flipped


def test_one_chain_over_all_rows_is_the_plain_permutation_estimator():
    X, y, _ = _data(0, 10)
    Xv, yv, _ = _data(1, 30)
    train, valid = Dataset(X, y), Dataset(Xv, yv)
    model = LogisticRegression(max_iter=1000)
    ts = TransferredShapley(
        model=model, transform=None, chain_size=10, coverage=1, permutations=6, random_state=42
    ).fit(train, valid)
    plain = PermutationShapley(model=model, random_state=42, stop=MaxSamples(6)).fit(train, valid)
    np.testing.assert_allclose(ts.result_.values, plain.result_.values, rtol=0, atol=1e-12)
    assert (ts.result_.counts == 1).all()
    assert ts.n_utility_evaluations_ == plain.n_utility_evaluations_


def test_one_chain_over_a_game_is_the_plain_permutation_estimator():
    game = GloveGame(3, 4)
    ts = TransferredShapley(chain_size=7, coverage=1, permutations=20, random_state=7).fit(game)
    plain = PermutationShapley(random_state=7, stop=MaxSamples(20)).fit(game)
    np.testing.assert_allclose(ts.result_.values, plain.result_.values, atol=1e-12)


@pytest.mark.parametrize(("n", "chain_size", "coverage"), [(23, 5, 3), (10, 3, 1), (8, 20, 2)])
def test_additive_utility_aggregates_exactly(n, chain_size, coverage):
    worths = np.random.default_rng(n).normal(size=n)
    ts = TransferredShapley(
        chain_size=chain_size, coverage=coverage, permutations=3, random_state=1
    ).fit(AdditiveGame(worths.tolist()))
    np.testing.assert_allclose(ts.result_.values, worths, atol=1e-12)
    assert (ts.result_.counts == coverage).all()
    # Every partition covers each player exactly once.
    n_blocks = -(-n // chain_size)
    assert len(ts.chains_) == coverage * n_blocks
    for p in range(coverage):
        blocks = ts.chains_[p * n_blocks : (p + 1) * n_blocks]
        assert sorted(np.concatenate(blocks).tolist()) == list(range(n))
        sizes = [len(b) for b in blocks]
        assert max(sizes) - min(sizes) <= 1


def test_chunked_equals_unchunked_and_missing_chunks_are_refused():
    X, y, _ = _data(2, 24)
    Xv, yv, _ = _data(3, 30)
    train, valid = Dataset(X, y), Dataset(Xv, yv)
    est = TransferredShapley(chain_size=8, coverage=2, permutations=3, random_state=5)
    whole = est.fit(train, valid).result_
    assert est.n_units(train) == 6
    chunked = fit_chunked(est, train, valid, chunks=[(0, 1), (1, 4), (4, 6)])
    np.testing.assert_allclose(chunked.values, whole.values, atol=1e-12)
    np.testing.assert_allclose(chunked.sum_sq_dev, whole.sum_sq_dev, atol=1e-12)
    with pytest.raises(ValueError, match="no merged chain"):
        fit_chunked(est, train, valid, chunks=[(0, 2)])
    with pytest.raises(ValueError, match="integer random_state"):
        TransferredShapley().fit_chunk(train, valid, start=0, stop=1)


def test_blocks_keep_the_class_mix():
    y = np.array([0] * 30 + [1] * 12 + [2] * 6)
    X = np.random.default_rng(0).normal(size=(48, 2))
    est = TransferredShapley(chain_size=8, coverage=2, permutations=1, random_state=3)
    est.fit(Dataset(X, y), Dataset(X, y))
    assert len(est.chains_) == 12
    for chain in est.chains_:
        counts = np.bincount(y[chain], minlength=3)
        # 6 blocks: each class spreads within one row of its even share.
        assert (np.abs(counts - np.array([30, 12, 6]) / 6) < 1).all()


@pytest.mark.parametrize(("scorer", "tolerance"), [("neg_log_loss", 0.0), ("accuracy", 0.01)])
def test_removal_index_lands_near_the_flipped_fraction(scorer, tolerance):
    rng = np.random.default_rng(4)
    n = 400
    X = rng.normal(size=(n, 2))
    y = (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int)
    # Flip a fifth of the labels where they hurt most: on one side, near the boundary.
    candidates = np.flatnonzero((y == 1) & (X[:, 0] < 1.2))
    flipped = rng.choice(candidates, size=n // 5, replace=False)
    noisy = y.copy()
    noisy[flipped] = 0
    Xv = rng.normal(size=(300, 2))
    yv = (Xv[:, 0] + 0.3 * Xv[:, 1] > 0).astype(int)
    oracle = np.ones(n)
    oracle[flipped] = -1.0
    est = TransferredShapley(
        scorer=scorer, removal_fractions=np.linspace(0, 0.4, 41), removal_tolerance=tolerance
    )
    curve = est.removal_index(Dataset(X, noisy), Dataset(Xv, yv), values=oracle)
    assert 0.15 <= curve.best_fraction <= 0.25
    assert curve.scores.max() > curve.scores[0]
    assert est.n_utility_evaluations_ == 41


def test_fit_runs_the_removal_step_on_its_own_values():
    X, y, _ = _data(6, 30, flip=0.2)
    Xv, yv, _ = _data(7, 40)
    est = TransferredShapley(
        chain_size=10, coverage=2, permutations=4, removal_fractions=[0, 0.1, 0.2], random_state=0
    ).fit(Dataset(X, y), Dataset(Xv, yv))
    curve = est.removal_curve_
    assert curve.scores.shape == (3,)
    assert curve.scores[np.argmax(curve.scores)] == curve.scores.max()
    dropped = int(round(curve.best_fraction * 30))
    assert len(curve.kept) == 30 - dropped
    lowest = np.argsort(est.result_.values, kind="stable")[:dropped]
    assert set(lowest.tolist()).isdisjoint(curve.kept.tolist())


def test_progress_after_every_chain():
    calls = []
    TransferredShapley(
        chain_size=4,
        coverage=2,
        permutations=2,
        random_state=0,
        progress=lambda f, info: calls.append(f),
    ).fit(AdditiveGame([1.0] * 10))
    assert len(calls) == 6 and calls == sorted(calls) and calls[-1] == 1.0
