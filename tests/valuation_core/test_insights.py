"""buyer_insights: measured drops, per-source suspects, explanations limited to what is looked
at, and per-row values — checked against independent refits with scikit-learn."""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

from valuation.core.dataset import Dataset
from valuation.core.insights import buyer_insights


@pytest.fixture(scope="module")
def bundle():
    X, y = make_classification(
        n_samples=480, n_features=5, n_informative=3, n_redundant=0, class_sep=1.5, random_state=3
    )
    y = y.copy()
    y[180:300] = 1 - y[180:300]  # source "c": 120 rows, every label flipped
    groups = np.array(["own"] * 60 + ["a"] * 60 + ["b"] * 60 + ["c"] * 120, dtype=object)
    train = Dataset(X[:300], y[:300], groups=groups)
    valid = Dataset(X[300:], y[300:])
    found = buyer_insights(
        train,
        valid,
        model=LogisticRegression(max_iter=1000),
        own=["own"],
        looked_at=["a"],
        random_state=0,
    )
    return X, y, train, valid, found


def refit_score(X, y, keep, valid):
    model = LogisticRegression(max_iter=1000).fit(X[keep], y[keep])
    return accuracy_score(valid.y, model.predict(valid.X))


def test_the_flipped_source_is_suggested_and_the_change_is_a_real_refit(bundle):
    X, y, _, valid, found = bundle
    # Only the flipped source's removal is confidently better: a clean source's change is
    # within the noise of 180 validation rows.
    sources = found.report.prune.sources
    assert sources[0].source == "c"
    assert [item.source for item in sources if item.suggested] == ["c"]
    assert all(item.change_lower <= 0 for item in sources[1:])
    dropped = sources[0]
    keep = np.r_[0:180]
    assert dropped.score_after == pytest.approx(refit_score(X, y, keep, valid))
    assert dropped.score_before == pytest.approx(refit_score(X, y, np.r_[0:300], valid))
    assert 0 < dropped.change_lower <= dropped.change <= dropped.change_upper


def test_suspects_are_positions_within_their_source(bundle):
    X, y, _, valid, found = bundle
    assert set(found.source_suspects) == {"a", "b", "c"}
    offsets = {"own": 0, "a": 60, "b": 120, "c": 180}
    for name, (rows, score_after) in found.source_suspects.items():
        size = 120 if name == "c" else 60
        assert len(rows) == size // 10 and all(0 <= r < size for r in rows)
        keep = np.setdiff1d(np.arange(300), [offsets[name] + r for r in rows])
        assert score_after == pytest.approx(refit_score(X, y, keep, valid))
    suspects = found.report.prune.suspects
    by_source = suspects.by_player()
    assert sum(len(rows) for rows in by_source.values()) == suspects.count == 30
    assert len(by_source.get("c", [])) > 15, "most bundle suspects are the flipped rows"
    for ref in suspects.rows:  # each named by its source and its position within it
        size = 120 if ref.player == "c" else 60
        assert 0 <= ref.row < size and ref.label is None


def test_debugging_looks_only_at_own_rows_and_the_looked_at_sources(bundle):
    *_, found = bundle
    players = {d.player for p in found.report.debug.points for d in p.drivers}
    assert players and players <= {"own", "a"}
    assert found.report.sensitivity.n_rows == 120
    assert found.report.looked_at == ("a",)
    assert found.values.shape == (300,)
    assert found.values[180:].mean() < found.values[60:120].mean()
    assert found.position.tolist() == list(range(60)) * 3 + list(range(120))


def test_a_bad_share_is_refused(bundle):
    _, _, train, valid, _ = bundle
    with pytest.raises(ValueError, match="share"):
        buyer_insights(train, valid, model=LogisticRegression(), share=1.0)


def test_the_detectors_examine_a_seeded_sample_in_proportion_to_each_source(bundle, monkeypatch):
    from valuation.core import insights

    X, y, train, valid, whole = bundle
    assert whole.report.prune.suspects.examined == whole.report.prune.suspects.training_rows == 300
    monkeypatch.setattr(insights, "MIN_EXAMINED_PER_SOURCE", 40)
    kwargs = dict(model=LogisticRegression(max_iter=1000), own=["own"], random_state=0)
    found = buyer_insights(train, valid, max_rows=150, **kwargs)
    # 30 of each 60-row source would be its share of 150; at least 40 each; 60 of "c".
    suspects = found.report.prune.suspects
    assert suspects.examined == 3 * 40 + 60 and suspects.training_rows == 300
    source = train.player_names[train.player_of_row].astype(str)
    examined = insights._examined(source, 150, 0)
    assert [int((source[examined] == s).sum()) for s in ("own", "a", "b", "c")] == [40, 40, 40, 60]
    offsets = {"a": 60, "b": 120, "c": 180}
    for name, (rows, score_after) in found.source_suspects.items():
        # The lowest 10% of the rows examined, and a real refit without them.
        assert len(rows) == (6 if name == "c" else 4)
        assert set(offsets[name] + np.array(rows)) <= set(examined.tolist())
        keep = np.setdiff1d(np.arange(300), [offsets[name] + r for r in rows])
        assert score_after == pytest.approx(refit_score(X, y, keep, valid))
    assert suspects.count == 18
    assert len(suspects.by_player().get("c", [])) > 9, "still mostly the flipped rows"
    again = buyer_insights(train, valid, max_rows=150, **kwargs)
    assert again.report.prune.suspects == suspects
    assert again.source_suspects == found.source_suspects
    assert found.values.shape == (300,)  # row values stay for every row
