"""ValuationResult: single-pass statistics, exact merging, JSON round trip, ranking."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from valuation.core import ValuationResult
from valuation.core.result import pack_array, unpack_array

NAMES = ["a", "b", "c", "d"]


def samples(seed, n=40):
    return np.random.default_rng(seed).normal(loc=[0, 1, -2, 5], scale=[1, 0.1, 3, 0], size=(n, 4))


def test_from_samples_matches_numpy_statistics():
    data = samples(0)
    result = ValuationResult.from_samples(data, NAMES, method="m")
    np.testing.assert_allclose(result.values, data.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(result.variances, data.var(axis=0, ddof=1), rtol=1e-12, atol=1e-30)
    np.testing.assert_allclose(result.stderr, data.std(axis=0, ddof=1) / np.sqrt(40), rtol=1e-12)
    assert result.counts.tolist() == [40] * 4


@pytest.mark.parametrize("seed", range(5))
def test_merge_of_any_partition_equals_single_pass(seed):
    rng = np.random.default_rng(seed)
    data = samples(seed, n=97)
    cuts = np.sort(rng.choice(np.arange(1, 97), size=int(rng.integers(1, 8)), replace=False))
    pieces = [
        ValuationResult.from_samples(block, NAMES, method="m") for block in np.split(data, cuts)
    ]
    order = rng.permutation(len(pieces))
    merged = sum(pieces[i] for i in order)
    whole = ValuationResult.from_samples(data, NAMES, method="m")
    assert merged.counts.tolist() == whole.counts.tolist()
    np.testing.assert_allclose(merged.values, whole.values, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(merged.sum_sq_dev, whole.sum_sq_dev, rtol=1e-12, atol=1e-12)


def test_merge_is_associative_and_commutative():
    a, b, c = (
        ValuationResult.from_samples(samples(s, n=5 + s), NAMES, method="m") for s in (1, 2, 3)
    )
    left, right = (a + b) + c, a + (b + c)
    for x, y in [(left, right), (a + b, b + a)]:
        np.testing.assert_allclose(x.values, y.values, rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(x.sum_sq_dev, y.sum_sq_dev, rtol=1e-13, atol=1e-13)
        assert x.counts.tolist() == y.counts.tolist()


def test_merge_with_masked_samples_counts_each_player_separately():
    data = samples(4, n=30)
    mask = np.random.default_rng(4).random((30, 4)) < 0.5
    whole = ValuationResult.from_samples(data, NAMES, method="m", mask=mask)
    parts = ValuationResult.from_samples(
        data[:11], NAMES, method="m", mask=mask[:11]
    ) + ValuationResult.from_samples(data[11:], NAMES, method="m", mask=mask[11:])
    assert parts.counts.tolist() == mask.sum(axis=0).tolist()
    for player in range(4):
        taken = data[mask[:, player], player]
        assert parts.values[player] == pytest.approx(taken.mean(), rel=1e-13)
        assert parts.variances[player] == pytest.approx(taken.var(ddof=1), rel=1e-12, abs=1e-30)
    np.testing.assert_allclose(parts.values, whole.values, rtol=1e-13)


def test_empty_result_is_the_identity_and_stderr_is_infinite_below_two_samples():
    full = ValuationResult.from_samples(samples(5), NAMES, method="m")
    empty = ValuationResult.empty(NAMES, "m")
    for merged in (empty + full, full + empty):
        np.testing.assert_array_equal(merged.values, full.values)
        np.testing.assert_array_equal(merged.sum_sq_dev, full.sum_sq_dev)
    one = ValuationResult.from_samples(samples(6, n=1), NAMES, method="m")
    assert np.all(np.isinf(one.stderr)) and np.all(np.isinf(empty.stderr))


def test_to_dict_round_trips_exactly_through_json():
    data = samples(7, n=3) * np.array([1e-300, 1 / 3, 0.1 + 0.2, 1e300])
    result = ValuationResult.from_samples(data, NAMES, method="m", total_gain=0.1 + 0.2)
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert all(type(v) is float for v in payload["values"] + payload["sum_sq_dev"])
    assert all(type(c) is int for c in payload["counts"])
    back = ValuationResult.from_dict(payload)
    np.testing.assert_array_equal(back.values, result.values)
    np.testing.assert_array_equal(back.sum_sq_dev, result.sum_sq_dev)
    np.testing.assert_array_equal(back.counts, result.counts)
    assert back.names.tolist() == NAMES and back.method == "m"
    assert back.total_gain == result.total_gain
    with pytest.raises(ValueError):
        ValuationResult.from_dict({**payload, "type": "UtilityTable"})


def test_ranking_top_bottom_with_ties_broken_by_index():
    result = ValuationResult([0.5, 2.0, 0.5, -1.0, 2.0], [1] * 5, list("vwxyz"), method="m")
    assert result.ranking().tolist() == [1, 4, 0, 2, 3]
    assert result.top(2).tolist() == [1, 4]
    assert result.bottom(2).tolist() == [3, 2]
    assert result.top(0).tolist() == []


def test_efficiency_gap_and_total_gain():
    result = ValuationResult([0.25, 0.5], [2, 2], ["a", "b"], method="m", total_gain=1.0)
    assert result.efficiency_gap == pytest.approx(-0.25)
    assert ValuationResult([1.0], [2], ["a"], method="m").efficiency_gap is None


def test_merging_incompatible_results_is_refused():
    base = ValuationResult([1.0, 2.0], [2, 2], ["a", "b"], method="m", total_gain=1.0)
    with pytest.raises(ValueError, match="different players"):
        base + ValuationResult([1.0, 2.0], [2, 2], ["a", "c"], method="m")
    with pytest.raises(ValueError, match="cannot merge results"):
        base + ValuationResult([1.0, 2.0], [2, 2], ["a", "b"], method="other")
    with pytest.raises(ValueError, match="disagree"):
        base + ValuationResult([1.0, 2.0], [2, 2], ["a", "b"], method="m", total_gain=2.0)
    with pytest.raises(ValueError):
        ValuationResult([1.0], [2, 2], ["a", "b"], method="m")


def test_players_named_by_position_merge_with_each_other_and_with_their_names():
    data = samples(3, n=5)
    positional = ValuationResult.from_samples(data, None, method="m")
    assert positional.positional and positional.n_players == 4
    merged = positional + ValuationResult.from_samples(data, None, method="m")
    assert merged.positional  # merging did not spell the names out
    named = ValuationResult.from_samples(data, ["0", "1", "2", "3"], method="m")
    assert (positional + named).names.tolist() == ["0", "1", "2", "3"]
    assert positional.names.tolist() == ["0", "1", "2", "3"]
    with pytest.raises(ValueError, match="different players"):
        positional + ValuationResult.from_samples(data, NAMES, method="m")
    with pytest.raises(ValueError, match="different players"):
        positional + ValuationResult.from_samples(data[:, :3], None, method="m")


@given(
    arrays(
        st.sampled_from([np.float64, np.int64, np.int32, np.bool_]),
        st.integers(0, 300),
    )
)
def test_packed_arrays_come_back_bit_for_bit_through_json(array):
    packed = json.loads(json.dumps(pack_array(array)))
    back = unpack_array(packed)
    assert back.dtype == array.dtype and back.shape == array.shape
    assert back.tobytes() == array.tobytes()
    back[...] = 0  # a writable copy, not a view of the text
    big_endian = array.astype(array.dtype.newbyteorder(">"))
    assert unpack_array(pack_array(big_endian)).tobytes() == array.tobytes()


def test_packing_refuses_what_it_cannot_read_back_exactly():
    with pytest.raises(ValueError, match="cannot pack"):
        pack_array(np.array(["a", "b"], dtype=object))
    packed = pack_array(np.arange(10, dtype=np.int64))
    with pytest.raises(ValueError, match="known type"):
        unpack_array({**packed, "dtype": "O"})
    with pytest.raises(ValueError, match="holds 80 bytes"):
        unpack_array({**packed, "shape": [11]})
