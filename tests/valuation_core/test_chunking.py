"""The chunk protocol: any chunking, merged in any order, equals the unchunked run."""

import json

import numpy as np
import pytest

from tests.valuation_core.oracles import random_table, table_game
from valuation.core import (
    ExactBanzhaf,
    ExactShapley,
    LeaveOneOut,
    MaxSamples,
    PermutationShapley,
    UtilityTable,
    chunk_ranges,
    fit_chunked,
    partial_from_dict,
    sample_rng,
)

N_SAMPLES = 40
CHUNKINGS = [
    [(0, 40)],
    [(0, 1), (1, 40)],
    [(0, 13), (13, 13), (13, 27), (27, 40)],
    chunk_ranges(40, 7),
    chunk_ranges(40, 1),
]


@pytest.fixture(scope="module")
def table6():
    return random_table(6, np.random.default_rng(9))


def run_chunks(estimator, game_factory, chunks, order_seed):
    """Run chunks, pass every partial through JSON, merge in a shuffled order."""
    stored = [
        json.dumps(estimator.fit_chunk(game_factory(), start=a, stop=b).to_dict())
        for a, b in chunks
    ]
    order = np.random.default_rng(order_seed).permutation(len(stored))
    return estimator.reduce(sum(partial_from_dict(json.loads(stored[i])) for i in order))


@pytest.mark.parametrize("seed", [0, 123456789, 2**40 + 3])
@pytest.mark.parametrize("index", [0, 1, 17])
def test_sample_generator_is_the_spawned_child(seed, index):
    child = np.random.SeedSequence(seed).spawn(index + 1)[index]
    np.testing.assert_array_equal(
        sample_rng(seed, index).random(8), np.random.default_rng(child).random(8)
    )


@pytest.mark.parametrize(
    "params", [{}, {"truncation": 0.2}, {"antithetic": True}], ids=["plain", "tmc", "antithetic"]
)
@pytest.mark.parametrize("chunks", CHUNKINGS, ids=lambda c: f"{len(c)}chunks")
def test_chunked_permutation_equals_unchunked(table6, params, chunks):
    estimator = PermutationShapley(random_state=77, stop=MaxSamples(N_SAMPLES), **params)
    whole = estimator.fit(table_game(table6, 6)).result_
    merged = run_chunks(estimator, lambda: table_game(table6, 6), chunks, order_seed=len(chunks))
    assert merged.counts.tolist() == whole.counts.tolist() == [N_SAMPLES] * 6
    np.testing.assert_allclose(merged.values, whole.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(merged.stderr, whole.stderr, rtol=0, atol=1e-12)
    assert merged.total_gain == whole.total_gain


@pytest.mark.parametrize("method", [ExactShapley, ExactBanzhaf, LeaveOneOut])
def test_chunked_tables_reduce_to_the_fitted_result(table6, method):
    estimator = method()
    n_units = estimator.n_units(table_game(table6, 6))
    assert n_units == (7 if method is LeaveOneOut else 64)
    whole = estimator.fit(table_game(table6, 6)).result_
    cuts = [(0, 2), (2, 2), (2, n_units - 3), (n_units - 3, n_units)]
    merged = run_chunks(estimator, lambda: table_game(table6, 6), cuts, order_seed=1)
    np.testing.assert_array_equal(merged.values, whole.values)
    assert merged.method == whole.method and merged.total_gain == whole.total_gain


def test_fit_chunked_runs_the_protocol_in_process(table6):
    estimator = PermutationShapley(random_state=4, stop=MaxSamples(12))
    result = fit_chunked(estimator, table_game(table6, 6), chunks=chunk_ranges(12, 5))
    np.testing.assert_allclose(
        result.values, estimator.fit(table_game(table6, 6)).result_.values, atol=1e-12
    )
    assert estimator.n_units(table_game(table6, 6)) is None
    assert chunk_ranges(12, 5) == [(0, 5), (5, 10), (10, 12)]


def test_coalition_utilities_of_a_chunk_are_the_game_utilities(table6):
    chunk = ExactShapley().fit_chunk(table_game(table6, 6), start=10, stop=30)
    assert len(chunk.coalition_utilities()) == 20 and not chunk.is_complete()
    for coalition, value in chunk.coalition_utilities().items():
        assert value == float(table6[coalition])
    loo = LeaveOneOut().fit_chunk(table_game(table6, 6), start=0, stop=3)
    assert set(loo.coalition_utilities()) == {
        frozenset(range(6)),
        frozenset({1, 2, 3, 4, 5}),
        frozenset({0, 2, 3, 4, 5}),
    }


def test_protocol_errors_are_explicit(table6):
    exact = ExactShapley()
    partial = exact.fit_chunk(table_game(table6, 6), start=0, stop=60)
    with pytest.raises(ValueError, match="misses 4 units"):
        exact.reduce(partial)
    with pytest.raises(ValueError, match="reduces a 'subsets' UtilityTable"):
        exact.reduce(LeaveOneOut().fit_chunk(table_game(table6, 6), start=0, stop=7))
    with pytest.raises(ValueError, match="outside"):
        exact.fit_chunk(table_game(table6, 6), start=60, stop=65)
    clash = UtilityTable("subsets", partial.names, {0: partial.utilities[0] + 1e-3})
    with pytest.raises(ValueError, match="disagree"):
        partial + clash
    # Last-bit noise between machines is not a clash; the left operand's value is kept.
    noisy = UtilityTable("subsets", partial.names, {0: partial.utilities[0] * (1 + 1e-15)})
    assert (partial + noisy).utilities[0] == partial.utilities[0]
    sampler = PermutationShapley(random_state=None)
    with pytest.raises(ValueError, match="integer random_state"):
        sampler.fit_chunk(table_game(table6, 6), start=0, stop=2)
    with pytest.raises(ValueError, match="reduces a 'permutation_shapley' result"):
        PermutationShapley(random_state=1).reduce(partial)
    with pytest.raises(ValueError, match="unknown partial type"):
        partial_from_dict({"type": "Nothing"})


def test_progress_is_monotone_and_ends_at_one(table6):
    seen = []
    PermutationShapley(
        random_state=1, stop=MaxSamples(9), progress=lambda f, info: seen.append((f, info))
    ).fit(table_game(table6, 6))
    fractions = [f for f, _ in seen]
    assert len(seen) == 9 and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert seen[-1][1]["n_samples"] == 9 and seen[-1][1]["method"] == "permutation_shapley"
    seen.clear()
    ExactShapley(progress=lambda f, info: seen.append((f, info))).fit(table_game(table6, 6))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert seen[-1][1]["n_units_done"] == 64
