"""Reading user files: every bad file fails with a message naming the row or column."""

import contextlib
import io

import numpy as np
import pandas as pd
import pytest

from valuation.core.tabular import (
    Encoder,
    TableError,
    infer_schema,
    labels,
    read_table,
    row_hashes,
)

GOOD = b"age,city,income,bought\n31,Paris,1.5,yes\n45,Lyon,2.5,no\n28,Paris,0.5,yes\n"


def schema_of(data: bytes, label="bought", **kwargs):
    return infer_schema(read_table(data, name="f.csv"), label=label, **kwargs)


def test_a_good_csv_gets_a_typed_schema():
    schema = schema_of(GOOD)
    assert schema.feature_names == ["age", "city", "income"]
    assert [c.kind for c in schema.features] == ["numeric", "categorical", "numeric"]
    assert schema.column("city").categories == ("Lyon", "Paris")
    assert schema.task == "classification"
    assert schema.classes == ("no", "yes")
    assert schema.n_rows == 3


def test_schema_round_trips_through_json_dicts():
    schema = schema_of(GOOD)
    assert type(schema).from_dict(schema.to_dict()) == schema


@pytest.mark.parametrize(
    ("data", "fragment", "row", "column"),
    [
        (b"", "is empty", None, None),
        (b"a,b,y\n", "no data rows", None, None),
        (b"a,b,y\n1,2,0\n3,4\n", "row 2 (line 3) has 2 fields", 2, None),
        (b"a,b,y\n1,2,0\n3,4,1,9\n", "row 2 (line 3) has 4 fields", 2, None),
        # Every row one field wider: pandas alone would read the first column as an index.
        (b"a,b,y\n1,2,0,5\n3,4,1,6\n", "row 1 (line 2) has 4 fields", 1, None),
        (b"a,b,y\n1,2\n3,4,1\n", "row 1 (line 2) has 2 fields", 1, None),
        (b'a,b,y\n1,2,0\n3,"4\n', "row 2 (line 3) has 2 fields", 2, None),  # quote left open
        (b"a,b,y\n1,2,0\n\xff\xfe,4,1\n", "not UTF-8", 2, None),
        (b"a,a,y\n1,2,0\n3,4,1\n", "appears twice", None, "a"),
        (b"a,,y\n1,2,0\n3,4,1\n", "column 2 has no name", None, None),
        (b"a,b,y\n1,,0\n3,4,1\n", "missing value in row 1", 1, "b"),
        (b"a,b,y\n1,2,0\n3,inf,1\n", "infinite value in row 2", 2, "b"),
        (b"a,b,z\n1,2,0\n3,4,1\n", "label column 'y' not found", None, "y"),
        (b"a,b,y\n1,2,0\n3,4,0\n", "only one class", None, "y"),
        (b"a,b,y\n1,2,0\n3,4,\n", "label 'y' is missing in row 2", 2, "y"),
        (
            b"a,b\x07,y\n1,2,0\n3,4,1\n",
            "name of column 2 holds a control character (U+0007)",
            None,
            None,
        ),
        (
            b"a,b,y\n1,x,0\n3,\x1bz,1\n",
            "column 'b' has a control character (U+001B) in row 2",
            2,
            "b",
        ),
        (
            b"a,b,y\n1,2,n\x7f\n3,4,m\n",
            "label 'y' has a control character (U+007F) in row 1",
            1,
            "y",
        ),
    ],
)
def test_bad_files_are_named_precisely(data, fragment, row, column):
    with pytest.raises(TableError) as caught:
        schema_of(data, label="y")
    assert fragment in caught.value.message
    assert caught.value.row == row
    assert caught.value.column == column


@pytest.mark.parametrize("trailing", ["", "\n", "\n\n"])
def test_a_row_past_the_limit_is_refused_however_the_file_ends(trailing):
    rows = "\n".join(f"{i},{i % 2}" for i in range(11))
    with pytest.raises(TableError, match="the limit is 10"):
        read_table(("a,y\n" + rows + trailing).encode(), name="t.csv", max_rows=10)
    quoted = "\n".join(f'"{i}\n{i}",{i % 2}' for i in range(6))  # 13 lines, 6 rows
    assert len(read_table(("a,y\n" + quoted).encode(), name="q.csv", max_rows=10)) == 6


def test_high_cardinality_text_is_refused_with_the_column_name():
    rows = "".join(f"{i},name{i},{i % 2}\n" for i in range(60))
    with pytest.raises(TableError, match="'who' is text with 60 distinct values") as caught:
        schema_of(("a,who,y\n" + rows).encode(), label="y")
    assert caught.value.column == "who"


def test_random_bytes_never_crash_with_anything_but_table_error():
    rng = np.random.default_rng(0)
    for _ in range(50):
        blob = rng.integers(0, 256, size=int(rng.integers(1, 400)), dtype=np.uint8).tobytes()
        with contextlib.suppress(TableError):
            schema_of(blob, label="y")


def test_nul_in_a_parquet_name_or_text_cell_is_refused_by_name_and_row():
    # CSV cannot carry NUL past its text check; Parquet strings can, and PostgreSQL's jsonb
    # (where schemas live) cannot store them.
    def parquet(frame: pd.DataFrame) -> bytes:
        buffer = io.BytesIO()
        frame.to_parquet(buffer)
        return buffer.getvalue()

    named = pd.DataFrame({"a\x00b": [1.0, 2.0], "y": [0, 1]})
    with pytest.raises(TableError, match=r"column 1 holds a control character \(U\+0000\)"):
        read_table(parquet(named), name="n.parquet")
    cells = pd.DataFrame({"a": ["x", "x\x00", "x"], "y": [0, 1, 0]})
    with pytest.raises(TableError, match=r"'a' has a control character \(U\+0000\) in row 2"):
        infer_schema(read_table(parquet(cells), name="c.parquet"), label="y")
    # White space a CSV may quote stays a category.
    spaced = pd.DataFrame({"a": ["x\ty", "x\ny", "x"], "y": [0, 1, 0]})
    schema = infer_schema(read_table(parquet(spaced), name="s.parquet"), label="y")
    assert schema.column("a").categories == ("x", "x\ty", "x\ny")


def test_parquet_is_read_by_content_and_by_name():
    frame = pd.read_csv(io.BytesIO(GOOD))
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    for name in ("data.parquet", "upload.bin"):
        table = read_table(buffer.getvalue(), name=name)
        assert list(table.columns) == list(frame.columns)
    with pytest.raises(TableError, match="not a readable Parquet"):
        read_table(b"PAR1 garbage", name="x.parquet")


def test_task_inference_for_numeric_labels():
    integral = b"x,y\n" + b"".join(f"{i},{i % 3}\n".encode() for i in range(30))
    fractional = b"x,y\n" + b"".join(f"{i},{i / 7:.3f}\n".encode() for i in range(30))
    assert schema_of(integral, label="y").task == "classification"
    assert schema_of(integral, label="y").classes == (0, 1, 2)
    assert schema_of(fractional, label="y").task == "regression"
    with pytest.raises(TableError, match="fractional"):
        schema_of(fractional, label="y", task="classification")


def test_encoder_shares_one_layout_across_datasets():
    task = schema_of(GOOD)
    other = schema_of(b"age,city,income,bought\n50,Nice,1.0,no\n51,Lyon,2.0,yes\n")
    encoder = Encoder.for_schemas(task, [other])
    assert encoder.output_names == ("age", "city=Lyon", "city=Nice", "city=Paris", "income")
    X = encoder.transform(read_table(GOOD))
    np.testing.assert_array_equal(X[0], [31, 0, 0, 1, 1.5])
    unseen = read_table(b"age,city,income,bought\n1,Rome,1.0,no\n")
    np.testing.assert_array_equal(encoder.transform(unseen)[0], [1, 0, 0, 0, 1.0])
    np.testing.assert_array_equal(labels(read_table(GOOD), task), ["yes", "no", "yes"])


def test_compatibility_names_each_problem():
    task = schema_of(GOOD)
    wrong = schema_of(b"age,city,price\n1,2,0.5\n2,3,1.5\n4,5,2.5\n", label="price")
    problems = task.problems_with(wrong)
    assert "column 'city' is numeric, expected categorical" in problems
    assert "missing feature column 'income'" in problems
    assert "its label is for regression, the task is classification" in problems
    assert task.problems_with(schema_of(GOOD)) == []


def test_row_hashes_ignore_column_order_and_number_spelling():
    a = read_table(b"x,y,z\n1,2,a\n3,4,b\n1,2,a\n")
    b = read_table(b"z,x,y\na,1.0,2.0\nc,3,4\n")
    ha, hb = row_hashes(a), row_hashes(b)
    assert ha[0] == ha[2] != ha[1]
    assert ha[0] == hb[0]
    assert hb[1] not in set(ha)


def test_formula_cells_are_found_in_text_columns_and_neutralised_in_the_csv_only():
    from valuation.core.tabular import formula_cells, neutralise_formulas

    raw = (
        b"age,link,y\n"
        b'-1.5,"=HYPERLINK(""http://evil.example"",""x"")",yes\n'
        b"2,@SUM(A1),no\n"
        b"3,plain,yes\n"
        b"+4,-3,no\n"
        b"5,plain,=cmd\n"
    )
    frame = read_table(raw, name="f.csv")
    schema = infer_schema(frame, label="y")
    # -3 is a number in a text column: a spreadsheet reads it as one, not as a formula.
    assert formula_cells(frame, schema) == {"link": 2, "y": 1}
    neutral = read_table(neutralise_formulas(raw), name="n.csv")
    assert neutral["link"].tolist() == [
        '\'=HYPERLINK("http://evil.example","x")',
        "'@SUM(A1)",
        "plain",
        "-3",
        "plain",
    ]
    assert neutral["y"].tolist()[-1] == "'=cmd"
    assert neutral["age"].tolist() == frame["age"].tolist(), "numbers stay as they were"
