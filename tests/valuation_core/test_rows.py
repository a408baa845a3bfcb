"""RowShapley: row-level Shapley values summed per owner — oracles on tiny row games, honest
error bars, exact efficiency, and no regrouping of rows into owners that moves a credit."""

import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.naive_bayes import GaussianNB

from tests.valuation_core.oracles import as_floats, cancer, owner_sums, shapley_by_permutations
from valuation.core import (
    Dataset,
    ExactShapley,
    ModelUtility,
    RowCredits,
    RowShapley,
    chunk_ranges,
    fit_chunked,
    partial_from_dict,
)
from valuation.core.games import AdditiveGame
from valuation.core.methods.rows import canonical_order, size_strata


def row_game_values(X, y, Xv, yv) -> np.ndarray:
    """Exact row Shapley values by enumerating every coalition of rows."""
    return ExactShapley(model=GaussianNB(), scorer="neg_brier").fit(Dataset(X, y), Dataset(Xv, yv))


def sampled(X, y, Xv, yv, owners=None, **params):
    params = {"model": GaussianNB(), "scorer": "neg_brier", "random_state": 0, **params}
    return RowShapley(**params).fit(Dataset(X, y, groups=owners), Dataset(Xv, yv))


@pytest.fixture(scope="module")
def ten():
    """Ten rows, three owners, and the exact values of their row game (1,024 fits)."""
    X, y, Xv, yv = cancer(10)
    owners = np.array(["a", "a", "a", "a", "b", "b", "b", "c", "c", "c"])
    exact = row_game_values(X, y, Xv, yv).result_.values
    return X, y, Xv, yv, owners, exact


# --- oracles on tiny row games ------------------------------------------------------------


def test_owner_totals_of_the_exact_row_game_are_sums_of_brute_force_row_values():
    X, y, Xv, yv = cancer(7)
    game = ModelUtility(GaussianNB(), "neg_brier").bind(Dataset(X, y), Dataset(Xv, yv))
    brute = as_floats(
        shapley_by_permutations(lambda s: Fraction(game.utility(tuple(s))), game.n_players)
    )
    exact = row_game_values(X, y, Xv, yv).result_.values
    owners = np.array(["a", "b", "a", "c", "b", "a", "c"])
    np.testing.assert_allclose(owner_sums(exact, owners), owner_sums(brute, owners), atol=1e-9)


def test_sampled_owner_totals_are_within_their_reported_error_of_the_exact_ones(ten):
    X, y, Xv, yv, owners, exact = ten
    truth = owner_sums(exact, owners)
    z = []
    for seed in range(8):
        est = sampled(X, y, Xv, yv, owners, random_state=seed, budget=640)
        assert list(est.result_.names) == ["a", "b", "c"]
        z.append((est.result_.values - truth) / est.result_.stderr)
    z = np.abs(np.array(z))
    assert z.max() < 4.5, "no estimate is far outside its error bar"
    assert 0.3 < z.mean() < 1.3, "the error bars are neither too wide nor too narrow"


def test_owner_totals_are_the_sums_of_the_row_values(ten):
    X, y, Xv, yv, owners, _ = ten
    est = sampled(X, y, Xv, yv, owners, budget=256)
    np.testing.assert_allclose(
        est.result_.values, owner_sums(est.row_result_.values, owners), atol=1e-9
    )


def test_reported_errors_match_the_spread_over_seeds():
    X, y, Xv, yv = cancer(40, seed=3)
    owners = np.repeat(["a", "b", "c", "d"], 10)
    design = {"budget": 512, "n_strata": 4, "coalitions_per_stratum": 4}  # 32 units
    runs = [sampled(X, y, Xv, yv, owners, random_state=s, **design) for s in range(16)]
    spread = np.std([r.result_.values for r in runs], axis=0, ddof=1)
    reported = np.mean([r.result_.stderr for r in runs], axis=0)
    assert np.all(reported > 0.6 * spread) and np.all(reported < 1.6 * spread)


# --- efficiency, symmetry, null rows ------------------------------------------------------


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), budget=st.integers(16, 200), n_owners=st.integers(1, 5))
def test_credits_add_up_to_the_lift_exactly(seed, budget, n_owners):
    X, y, Xv, yv = cancer(16, seed=1)
    owners = np.random.default_rng(seed).integers(0, n_owners, size=16)
    est = sampled(X, y, Xv, yv, owners, random_state=seed, budget=budget, n_strata=4)
    gain = est.result_.total_gain
    assert est.row_result_.values.sum() == pytest.approx(gain, abs=1e-9)
    assert est.result_.values.sum() == pytest.approx(gain, abs=1e-9)


def test_identical_rows_get_equal_credit():
    X, y, Xv, yv = cancer(12, seed=2)
    X, y = np.concatenate([X, X[:3]]), np.concatenate([y, y[:3]])
    values = sampled(X, y, Xv, yv, budget=256).row_result_.values
    np.testing.assert_array_equal(values[:3], values[12:])


def test_a_null_row_earns_nothing_beyond_its_error():
    # Player 4 adds nothing to any coalition: exactly 0 in the exact game, and within its
    # error bar (which comes from the other rows' noise) when sampled.
    game = AdditiveGame([3, 1, 2, 5, 0, 4, 1, 2])
    assert ExactShapley().fit(game).result_.values[4] == 0
    z = []
    for seed in range(6):
        rows = RowShapley(random_state=seed, budget=400, n_strata=4).fit(game).row_result_
        z.append(rows.values[4] / rows.stderr[4])
    assert np.all(np.abs(z) < 4) and abs(np.mean(z)) < 1.5


# --- no identity can move a credit --------------------------------------------------------


@pytest.fixture(scope="module")
def sixteen():
    X, y, Xv, yv = cancer(16, seed=4)
    reference = sampled(X, y, Xv, yv, budget=128, n_strata=4).row_result_.values
    return X, y, Xv, yv, reference


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(owners=st.lists(st.integers(0, 7), min_size=16, max_size=16))
def test_any_assignment_of_rows_to_owners_leaves_every_row_credit_unchanged(sixteen, owners):
    # Splitting one owner into k, merging owners, relabelling: all are assignments.
    X, y, Xv, yv, reference = sixteen
    est = sampled(X, y, Xv, yv, np.array(owners), budget=128, n_strata=4)
    np.testing.assert_array_equal(est.row_result_.values, reference)
    np.testing.assert_allclose(
        est.result_.values, owner_sums(reference, np.array(owners)), atol=1e-12
    )


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(permutation=st.permutations(list(range(16))))
def test_the_order_rows_come_in_does_not_change_their_credit(sixteen, permutation):
    # An owner's file may come before or after another's: credits follow the rows.
    X, y, Xv, yv, reference = sixteen
    order = np.array(permutation)
    est = sampled(X[order], y[order], Xv, yv, budget=128, n_strata=4)
    np.testing.assert_allclose(est.row_result_.values, reference[order], rtol=0, atol=1e-12)


def test_splitting_an_owner_does_not_raise_its_total(ten):
    # The attack provider-level Shapley rewards: the same rows under more names.
    X, y, Xv, yv, owners, _ = ten
    one = sampled(X, y, Xv, yv, np.where(owners == "a", "attacker", owners), budget=256)
    split = np.array(["a1", "a2", "a1", "a2", "b", "b", "b", "c", "c", "c"])
    four = sampled(X, y, Xv, yv, split, budget=256)
    totals = dict(zip(four.result_.names, four.result_.values))
    attacker = dict(zip(one.result_.names, one.result_.values))["attacker"]
    assert totals["a1"] + totals["a2"] == pytest.approx(attacker, abs=1e-12)
    assert totals["b"] == pytest.approx(dict(zip(one.result_.names, one.result_.values))["b"])


# --- chunks, records, plans ---------------------------------------------------------------


def test_chunks_merge_to_the_unchunked_run(ten):
    X, y, Xv, yv, owners, _ = ten
    est = RowShapley(model=GaussianNB(), scorer="neg_brier", random_state=5, budget=512)
    train, valid = Dataset(X, y, groups=owners), Dataset(Xv, yv)
    whole = est.fit(train, valid).result_
    units = est.n_units(train)
    chunked = fit_chunked(est, train, valid, chunks=[(0, 1), (1, units - 1), (units - 1, units)])
    np.testing.assert_allclose(chunked.values, whole.values, atol=1e-12)
    np.testing.assert_allclose(chunked.stderr, whole.stderr, atol=1e-12)
    parts = [est.fit_chunk(train, valid, start=a, stop=b) for a, b in chunk_ranges(units, 2)]
    revived = [partial_from_dict(json.loads(json.dumps(p.to_dict()))) for p in parts]
    assert all(isinstance(p, RowCredits) for p in revived)
    for part, back in zip(parts, revived):  # the packed per-row arrays come back exactly
        for mine, theirs in ((part.rows, back.rows), (part.owners, back.owners)):
            for field in ("values", "counts", "sum_sq_dev"):
                assert getattr(mine, field).tobytes() == getattr(theirs, field).tobytes()
        assert back.owner_of_row.tolist() == part.owner_of_row.tolist()
        assert back.credited_rows.tolist() == part.credited_rows.tolist()
        assert back.rows.positional and back.total_gain == part.total_gain
    np.testing.assert_allclose(est.reduce(sum(revived)).values, whole.values, atol=1e-12)


def test_credits_without_the_first_unit_cannot_be_reduced(ten):
    X, y, Xv, yv, owners, _ = ten
    est = RowShapley(model=GaussianNB(), scorer="neg_brier", random_state=5, budget=512)
    part = est.fit_chunk(Dataset(X, y, groups=owners), Dataset(Xv, yv), start=1, stop=2)
    with pytest.raises(ValueError, match="unit 0"):
        est.reduce(part)


def test_credits_of_different_owners_do_not_merge(ten):
    X, y, Xv, yv, owners, _ = ten
    est = RowShapley(model=GaussianNB(), scorer="neg_brier", random_state=5, budget=512)
    valid = Dataset(Xv, yv)
    first = est.fit_chunk(Dataset(X, y, groups=owners), valid, start=0, stop=1)
    other = est.fit_chunk(Dataset(X, y, groups=owners[::-1]), valid, start=1, stop=2)
    with pytest.raises(ValueError, match="different owners"):
        first + other


def test_a_run_costs_its_budget_and_counts_distinct_fits():
    X, y, Xv, yv = cancer(200, seed=5)
    est = sampled(X, y, Xv, yv, budget=300)
    per_unit = est.fits_per_unit(200)
    assert per_unit == 16 * 8
    assert est.credits_.n_units == 300 // per_unit == 2
    assert est.n_utility_evaluations_ == 2 * per_unit + 2  # plus U(all) and U(∅)


@pytest.mark.parametrize("n_rows", [2, 3, 17, 2000])
def test_size_strata_cover_every_coalition_size_once(n_rows):
    strata = size_strata(n_rows, 16, 0.75)
    sizes = np.concatenate([s.sizes for s in strata])
    np.testing.assert_array_equal(np.sort(sizes), np.arange(1, n_rows))
    assert len(strata) <= 16
    for s in strata:
        assert s.probabilities.sum() == pytest.approx(1.0)


def test_canonical_order_is_the_same_whatever_the_input_order():
    X, y, _, _ = cancer(30, seed=6)
    order, ties = canonical_order(X, y)
    shuffle = np.random.default_rng(0).permutation(30)
    again, _ = canonical_order(X[shuffle], y[shuffle])
    np.testing.assert_array_equal(X[order], X[shuffle][again])
    assert ties.tolist() == list(range(30))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"coalitions_per_stratum": 1}, "coalitions_per_stratum"),
        ({"n_strata": 0}, "n_strata"),
        ({"budget": 0}, "budget"),
        ({"size_exponent": -1.0}, "size_exponent"),
        ({"control_rounds": -1}, "control_rounds"),
    ],
)
def test_bad_parameters_are_refused(params, message):
    X, y, Xv, yv = cancer(8)
    with pytest.raises(ValueError, match=message):
        sampled(X, y, Xv, yv, **params)


# --- copies of another owner's rows -------------------------------------------------------


def test_copies_of_an_earlier_owners_rows_earn_their_copier_nothing():
    X, y, Xv, yv = cancer(40, seed=7)
    rng = np.random.default_rng(0)
    copied = rng.choice(20, 8, replace=False)  # rows of the first owner
    noisy = X[copied] + rng.normal(0, 0.01, size=(8, X.shape[1]))
    X2, y2 = np.concatenate([X, noisy]), np.concatenate([y, y[copied]])
    owners = np.array(["first"] * 20 + ["second"] * 20 + ["copier"] * 8)
    plain = sampled(X2, y2, Xv, yv, owners, budget=512)
    credited = sampled(X2, y2, Xv, yv, owners, budget=512, copies=True)
    totals = dict(zip(credited.result_.names, credited.result_.values))
    assert totals["copier"] == 0.0
    np.testing.assert_array_equal(credited.row_result_.values[40:], 0.0)
    # The original is credited what the pair earned; nobody else moves.
    pairs = plain.row_result_.values[copied] + plain.row_result_.values[40:]
    np.testing.assert_allclose(credited.row_result_.values[copied], pairs, atol=1e-12)
    np.testing.assert_allclose(
        credited.row_result_.values[20:40], plain.row_result_.values[20:40], atol=1e-12
    )
    assert credited.result_.values.sum() == pytest.approx(plain.result_.total_gain, abs=1e-9)


def test_chunks_on_one_training_set_find_its_copies_once(monkeypatch):
    from valuation.core.methods import rows

    X, y, Xv, yv = cancer(30, seed=3)
    owners = np.array(["a"] * 15 + ["b"] * 15)
    calls = []
    attribution = rows.copy_attribution
    monkeypatch.setattr(
        rows, "copy_attribution", lambda *args: calls.append(1) or attribution(*args)
    )
    est = RowShapley(model=GaussianNB(), scorer="neg_brier", random_state=2, copies=True)
    train, valid = Dataset(X, y, groups=owners), Dataset(Xv, yv)
    first = est.fit_chunk(train, valid, start=0, stop=1)
    second = est.fit_chunk(train, valid, start=1, stop=2)
    assert len(calls) == 1  # the second chunk reused what the first derived from the rows
    est.fit_chunk(train, Dataset(Xv[:30], yv[:30]), start=0, stop=1)
    est.fit_chunk(Dataset(X, y, groups=owners), valid, start=0, stop=1)
    assert len(calls) == 3  # another reference set, another training set: computed anew
    merged = est.reduce(first + second)
    fresh = fit_chunked(est, Dataset(X, y, groups=owners), valid, chunks=[(0, 2)])
    np.testing.assert_allclose(merged.values, fresh.values, atol=1e-12)


def test_copy_attribution_follows_precedence_labels_and_chains():
    from valuation.core.detection import copy_attribution

    rng = np.random.default_rng(1)
    base = rng.normal(size=(6, 3))
    X = np.concatenate([base, base[[0, 1]], base[[2]] + 1e-6, rng.normal(size=(1, 3)), base[[0]]])
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0])
    source = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 3])
    reference = rng.normal(size=(20, 3))
    target = copy_attribution(X, y, source, reference)
    assert target[:6].tolist() == list(range(6)), "the first source copies nobody"
    assert target[6] == 0 and target[7] == 1, "exact copies of an earlier source"
    assert target[8] == 2, "a copy within noise"
    assert target[9] == 9, "a row of its own"
    assert target[10] == 0, "a copy of a copy is credited to the first original"
    relabelled = y.copy()
    relabelled[6] = 1  # same features, another label: not a copy
    assert copy_attribution(X, relabelled, source, reference)[6] == 6


def test_credits_a_chunk_stored_in_the_first_layout_still_merge(ten):
    X, y, Xv, yv, owners, _ = ten
    est = RowShapley(model=GaussianNB(), scorer="neg_brier", random_state=5, budget=512)
    train, valid = Dataset(X, y, groups=owners), Dataset(Xv, yv)
    first, second = (est.fit_chunk(train, valid, start=a, stop=a + 1) for a in (0, 1))
    version_1 = {  # lists, rows named "0", "1", …: what chunks stored before packing
        "type": "RowCredits",
        "version": 1,
        "rows": first.rows.to_dict(),
        "owners": first.owners.to_dict(),
        "owner_of_row": first.owner_of_row.tolist(),
        "credited_rows": first.credited_rows.tolist(),
    }
    merged = partial_from_dict(version_1) + partial_from_dict(second.to_dict())
    np.testing.assert_array_equal(est.reduce(merged).values, est.reduce(first + second).values)
    with pytest.raises(ValueError, match="known version"):
        partial_from_dict({**version_1, "version": 3})
