"""Dataset: players as rows or groups, row lookup and validation messages."""

import numpy as np
import pytest

from valuation.core import Dataset


def test_rows_are_players_by_default():
    data = Dataset(np.arange(12.0).reshape(6, 2), np.array([0, 1, 0, 1, 1, 0]))
    assert data.n_players == 6 and data.n_rows == 6 and data.n_features == 2
    assert data.player_names.tolist() == ["0", "1", "2", "3", "4", "5"]
    assert data.indices_of([4, 1]).tolist() == [1, 4]
    assert data.indices_of([]).tolist() == []


def test_groups_are_numbered_in_order_of_first_appearance():
    groups = np.array(["b", "a", "b", "c", "a", "b"])
    data = Dataset(np.zeros((6, 1)), np.zeros(6), groups=groups)
    assert data.n_players == 3
    assert data.player_names.tolist() == ["b", "a", "c"]
    assert data.indices_of([0]).tolist() == [0, 2, 5]
    assert data.indices_of([2, 1]).tolist() == [1, 3, 4]
    for player, label in enumerate(["b", "a", "c"]):
        assert data.indices_of([player]).tolist() == np.flatnonzero(groups == label).tolist()


def test_group_names_from_a_mapping_or_in_player_order():
    groups = [7, 3, 7]
    by_label = Dataset(np.zeros((3, 1)), [0, 1, 0], groups=groups, group_names={3: "x", 7: "y"})
    assert by_label.player_names.tolist() == ["y", "x"]
    in_order = Dataset(np.zeros((3, 1)), [0, 1, 0], groups=groups, group_names=["first", "second"])
    assert in_order.player_names.tolist() == ["first", "second"]


def test_object_features_that_are_numbers_are_accepted():
    X = np.array([[1, "2.5"], [3, "4"]], dtype=object)
    data = Dataset(X, ["a", "b"], feature_names=["u", "v"])
    assert data.X.dtype == np.float64 and data.X[0, 1] == 2.5
    assert data.feature_names.tolist() == ["u", "v"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"X": np.zeros(3), "y": np.zeros(3)}, "2-D"),
        ({"X": np.zeros((0, 2)), "y": np.zeros(0)}, "empty"),
        ({"X": np.zeros((3, 0)), "y": np.zeros(3)}, "no feature columns"),
        ({"X": np.zeros((3, 2)), "y": np.zeros(4)}, "3 rows but y has 4"),
        ({"X": [[0.0, 1.0], [np.nan, 2.0]], "y": [0, 1]}, "row 1, column 0"),
        ({"X": [[0.0, np.inf]], "y": [0]}, "infinite"),
        ({"X": np.array([[1, "red"]], dtype=object), "y": [0]}, "column 1 is not numeric"),
        ({"X": np.zeros((2, 1)), "y": [1.0, np.nan]}, "y contains missing"),
        ({"X": np.zeros((2, 1)), "y": np.array([None, 1], dtype=object)}, "y contains missing"),
        ({"X": np.zeros((2, 1)), "y": np.zeros((2, 1))}, "y must be 1-D"),
        ({"X": np.zeros((2, 1)), "y": [0, 1], "groups": [1, 2, 3]}, "one entry per row"),
        ({"X": np.zeros((2, 1)), "y": [0, 1], "groups": ["a", None]}, "missing value at row 1"),
        ({"X": np.zeros((2, 1)), "y": [0, 1], "feature_names": ["a", "b"]}, "2 names for 1"),
        ({"X": np.zeros((2, 1)), "y": [0, 1], "group_names": ["a"]}, "without groups"),
        (
            {"X": np.zeros((2, 1)), "y": [0, 1], "groups": [0, 1], "group_names": {0: "a"}},
            "no name for group",
        ),
        (
            {"X": np.zeros((2, 1)), "y": [0, 1], "groups": [0, 1], "group_names": ["a"]},
            "1 names for 2 groups",
        ),
    ],
)
def test_invalid_input_is_refused_with_a_clear_message(kwargs, message):
    kwargs = dict(kwargs)
    with pytest.raises(ValueError, match=message):
        Dataset(kwargs.pop("X"), kwargs.pop("y"), **kwargs)


def test_indices_of_rejects_unknown_players():
    data = Dataset(np.zeros((3, 1)), [0, 1, 0], groups=["a", "b", "a"])
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        data.indices_of([2])
