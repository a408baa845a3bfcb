"""Tables in, numbers out: read CSV/Parquet files, infer a typed schema, encode to matrices.

Everything that turns a user's file into the ``X, y`` arrays the estimators take lives here,
so the command line and the marketplace's upload check a file the same way and fail with the
same words. A bad file raises :class:`TableError`, which names the row and/or column at fault.

Rows are numbered from 1 for the first data row (the header is not a row); for CSV files the
message also gives the line number, which counts the header.

pandas and pyarrow do the parsing; they are imported here only, so importing the rest of the
engine stays light.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np

Kind = Literal["numeric", "categorical"]
Task = Literal["classification", "regression"]

MAX_CATEGORIES = 50
"""A text column with more distinct values than this cannot be one-hot encoded sensibly."""
MAX_CLASSES = 50
MAX_INTEGER_CLASSES = 20
"""An integer label with at most this many distinct values is taken as a class label."""


class TableError(ValueError):
    """A file or table that DataFair cannot use, with the row and column at fault."""

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None):
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column

    def to_dict(self) -> dict[str, Any]:
        return {"detail": self.message, "row": self.row, "column": self.column}


@dataclass(frozen=True)
class Column:
    """One feature column: its name, its kind and, for categorical columns, its categories."""

    name: str
    kind: Kind
    categories: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "categories": list(self.categories)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Column:
        return cls(data["name"], data["kind"], tuple(data.get("categories", ())))


@dataclass(frozen=True)
class Schema:
    """The typed shape of a table: its feature columns, its label and the learning task."""

    features: tuple[Column, ...]
    label: str
    task: Task
    classes: tuple[Any, ...] = ()
    n_rows: int = 0
    label_kind: Kind = "numeric"

    @property
    def feature_names(self) -> list[str]:
        return [column.name for column in self.features]

    def column(self, name: str) -> Column:
        for column in self.features:
            if column.name == name:
                return column
        raise KeyError(name)

    def problems_with(self, other: Schema) -> list[str]:
        """Why ``other`` (e.g. a provider's dataset) cannot serve a task of this schema.

        An empty list means compatible: ``other`` has every feature column of this schema
        with the same kind, and a label of the same task type. Extra columns are ignored.
        """
        problems = []
        theirs = {column.name: column for column in other.features}
        for column in self.features:
            match = theirs.get(column.name)
            if match is None:
                problems.append(f"missing feature column {column.name!r}")
            elif match.kind != column.kind:
                problems.append(f"column {column.name!r} is {match.kind}, expected {column.kind}")
        if other.task != self.task:
            problems.append(f"its label is for {other.task}, the task is {self.task}")
        elif self.task == "classification" and other.label_kind != self.label_kind:
            problems.append(f"its labels are {other.label_kind}, the task's are {self.label_kind}")
        return problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": [column.to_dict() for column in self.features],
            "label": self.label,
            "task": self.task,
            "classes": [_json_scalar(c) for c in self.classes],
            "n_rows": self.n_rows,
            "label_kind": self.label_kind,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        return cls(
            features=tuple(Column.from_dict(c) for c in data["features"]),
            label=data["label"],
            task=data["task"],
            classes=tuple(data.get("classes", ())),
            n_rows=data.get("n_rows", 0),
            label_kind=data.get("label_kind", "numeric"),
        )


# --- reading ------------------------------------------------------------------------------


def read_table(
    source: str | Path | bytes | IO[bytes],
    *,
    format: Literal["csv", "parquet"] | None = None,
    name: str | None = None,
    max_rows: int | None = None,
    max_columns: int | None = None,
):
    """Read a CSV (UTF-8, comma-separated, one header line) or Parquet file into a DataFrame.

    Parameters
    ----------
    source : path, bytes or binary file object
    format : "csv" or "parquet"; by default taken from the file name, then from the content
        (Parquet files start with ``PAR1``).
    name : the file's name, used to guess the format and in messages.
    max_rows, max_columns : refuse larger tables (a limit the marketplace sets).

    Raises
    ------
    TableError
        Empty file, wrong encoding, ragged rows, duplicate or blank column names, too large.
    """
    import pandas as pd

    data, name = _read_bytes(source, name)
    if not data.strip():
        raise TableError(f"{name} is empty")
    fmt = format or _guess_format(data, name)
    if fmt == "parquet":
        # The footer says how large the table is: refuse from it, before a small file that
        # compresses millions of rows is decompressed.
        _check_size(*_parquet_shape(data, name), name, max_rows, max_columns)
        try:
            frame = pd.read_parquet(io.BytesIO(data))
        except Exception as exc:  # pyarrow raises several types for a corrupt file
            raise TableError(f"{name} is not a readable Parquet file ({exc})") from None
        frame.columns = [str(c) for c in frame.columns]
    elif fmt == "csv":
        frame = _read_csv(data, name, max_rows, max_columns)
    else:
        raise TableError(f"unknown format {fmt!r}: use csv or parquet")
    _check_columns(list(frame.columns), name)
    if len(frame) == 0:
        raise TableError(f"{name} has a header but no data rows")
    _check_size(len(frame), frame.shape[1], name, max_rows, max_columns)
    return frame


def _check_size(
    n_rows: int, n_columns: int, name: str, max_rows: int | None, max_columns: int | None
) -> None:
    if max_rows is not None and n_rows > max_rows:
        raise TableError(f"{name} has {n_rows} rows; the limit is {max_rows}")
    if max_columns is not None and n_columns > max_columns:
        raise TableError(f"{name} has {n_columns} columns; the limit is {max_columns}")


def _parquet_shape(data: bytes, name: str) -> tuple[int, int]:
    """Rows and columns a Parquet file declares in its footer (nothing is decompressed)."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(io.BytesIO(data))
        pandas = parquet.schema_arrow.pandas_metadata or {}
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise TableError(f"{name} is not a readable Parquet file ({exc})") from None
    # A stored pandas index is a column of the file but not of the table.
    index = [c for c in pandas.get("index_columns", []) if isinstance(c, str)]
    return parquet.metadata.num_rows, parquet.metadata.num_columns - len(index)


def _read_bytes(source, name: str | None) -> tuple[bytes, str]:
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            return path.read_bytes(), name or path.name
        except FileNotFoundError:
            raise TableError(f"no such file: {path}") from None
        except IsADirectoryError:
            raise TableError(f"{path} is a directory, not a file") from None
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), name or "the file"
    return source.read(), name or getattr(source, "name", None) or "the file"


def _guess_format(data: bytes, name: str) -> str:
    lowered = name.lower()
    if lowered.endswith((".parquet", ".pq")):
        return "parquet"
    if lowered.endswith((".csv", ".txt")):
        return "csv"
    return "parquet" if data[:4] == b"PAR1" else "csv"


def _read_csv(data: bytes, name: str, max_rows: int | None, max_columns: int | None):
    import pandas as pd

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TableError(
            f"{name} is not UTF-8 text: undecodable byte 0x{data[exc.start]:02x} on line {line}"
            " (save the file as UTF-8 CSV)",
            row=line - 1 if line > 1 else None,
        ) from None
    if "\x00" in text:
        raise TableError(f"{name} contains NUL bytes: it is not a CSV text file")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
        first = next(reader, None)
    except csv.Error as exc:
        raise TableError(f"{name}: malformed CSV on line {reader.line_num}: {exc}") from None
    # The header is known before pandas parses anything.
    _check_size(0, len(header), name, max_rows, max_columns)
    _check_columns(header, name, characters=False)
    # Lines bound the rows from above (a quoted cell may hold a line break): only a file
    # that may be too long is counted record by record first, refused as soon as it is.
    if max_rows is not None and text.count("\n") > max_rows + 1:
        _check_records(text, name, len(header), max_rows)
    # A first record wider than the header would make pandas read a column as the index.
    if first is not None and len(first) != len(header):
        _check_records(text, name, len(header), max_rows)
    try:
        frame = pd.read_csv(io.StringIO(text), skip_blank_lines=True, keep_default_na=True)
    except pd.errors.ParserError as exc:  # a wide row, or a quote opened and never closed
        _check_records(text, name, len(header), max_rows)
        raise TableError(f"{name} is not well-formed CSV: {exc}".replace("C error: ", "")) from None
    if frame.isna().to_numpy().any():  # a short row reads as missing cells: say which
        _check_records(text, name, len(header), max_rows)
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _check_records(text: str, name: str, width: int, max_rows: int | None) -> None:
    """Read the CSV record by record: refuse the first row whose number of fields is not the
    header's, or the row past ``max_rows``, naming it. (The Python reader costs seconds at a
    million rows, so it runs only when pandas' faster reading leaves a doubt.)"""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        next(reader)
        n_rows = 0
        for row_number, record in enumerate(reader, start=1):
            if not record:  # a blank line
                continue
            n_rows += 1
            if max_rows is not None and n_rows > max_rows:
                raise TableError(f"{name} has more than {max_rows} rows; the limit is {max_rows}")
            if len(record) != width:
                raise TableError(
                    f"{name}: row {row_number} (line {reader.line_num}) has {len(record)} "
                    f"fields; the header has {width}",
                    row=row_number,
                )
    except csv.Error as exc:
        raise TableError(f"{name}: malformed CSV on line {reader.line_num}: {exc}") from None


def _control_character(text: str, allowed: str = "") -> str | None:
    """The first control character of ``text`` not in ``allowed`` (as U+XXXX), or None.
    PostgreSQL's jsonb, where schemas and reports live, cannot hold NUL, and no control
    character belongs in a name shown to buyers."""
    for char in text:
        if char not in allowed and unicodedata.category(char) == "Cc":
            return f"U+{ord(char):04X}"
    return None


#: Control characters a text cell may hold (CSV quotes them; they show as white space).
CELL_WHITESPACE = "\t\n\r"


def _check_columns(columns: list[str], name: str, *, characters: bool = True) -> None:
    """Names present and distinct; with ``characters``, free of control characters (the
    CSV header's early check leaves those to the parse, since a line break in a name is
    most often a quote left open, which the parse names as such)."""
    seen: set[str] = set()
    for position, column in enumerate(columns, start=1):
        if not column.strip():
            raise TableError(f"{name}: column {position} has no name")
        if characters and (code := _control_character(column)):
            raise TableError(
                f"{name}: the name of column {position} holds a control character ({code})"
            )
        if column in seen:
            raise TableError(f"{name}: column {column!r} appears twice", column=column)
        seen.add(column)


# --- schema -------------------------------------------------------------------------------


def infer_schema(
    frame,
    *,
    label: str,
    task: Task | None = None,
    features: Sequence[str] | None = None,
    max_categories: int = MAX_CATEGORIES,
) -> Schema:
    """Check a table and infer its schema.

    Numeric columns must be finite everywhere; text and boolean columns become categorical
    (at most ``max_categories`` distinct values). The task is classification when the label
    is text or boolean, or integral with at most 20 distinct values; otherwise regression.

    Raises
    ------
    TableError
        Missing label column, missing or infinite values, un-encodable text, one class only.
    """
    if label not in frame.columns:
        raise TableError(
            f"label column {label!r} not found; columns are {', '.join(map(repr, frame.columns))}",
            column=label,
        )
    names = list(features) if features is not None else [c for c in frame.columns if c != label]
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise TableError(f"feature column {missing[0]!r} not found", column=missing[0])
    if not names:
        raise TableError("the table has a label but no feature columns")
    columns = tuple(_infer_column(frame[name], name, max_categories) for name in names)
    task, classes, label_kind = _infer_label(frame[label], label, task)
    return Schema(columns, label, task, classes, n_rows=len(frame), label_kind=label_kind)


def _is_numeric(series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _first_bad_row(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0]) + 1


def _check_scalar(series, name: str) -> None:
    """Refuse cells that are not single values (Parquet lists, structs, maps)."""
    if series.dtype == object:
        nested = series.map(lambda v: isinstance(v, list | tuple | dict | set | np.ndarray))
        if nested.any():
            row = _first_bad_row(nested.to_numpy(dtype=bool))
            raise TableError(
                f"column {name!r} holds a list or record in row {row}; DataFair needs one "
                "number or text value per cell",
                row=row,
                column=name,
            )


def _infer_column(series, name: str, max_categories: int) -> Column:
    _check_scalar(series, name)
    if series.isna().any():
        row = _first_bad_row(series.isna().to_numpy())
        raise TableError(f"column {name!r} has a missing value in row {row}", row=row, column=name)
    if _is_numeric(series):
        values = series.to_numpy(dtype=np.float64)
        finite = np.isfinite(values)
        if not finite.all():
            row = _first_bad_row(~finite)
            raise TableError(
                f"column {name!r} has an infinite value in row {row}", row=row, column=name
            )
        return Column(name, "numeric")
    categories = sorted({str(v) for v in series.unique()})
    if len(categories) > max_categories:
        raise TableError(
            f"column {name!r} is text with {len(categories)} distinct values; DataFair can "
            f"encode text columns with at most {max_categories} categories (convert it to "
            "numbers or drop it)",
            column=name,
        )
    _check_text(series, categories, f"column {name!r}", name)
    return Column(name, "categorical", tuple(categories))


def _check_text(series, values: Iterable[str], what: str, name: str) -> None:
    """Refuse a text value holding a control character other than white space, by row."""
    for value in values:
        if code := _control_character(value, CELL_WHITESPACE):
            row = _first_bad_row((series.astype(str) == value).to_numpy())
            raise TableError(
                f"{what} has a control character ({code}) in row {row}", row=row, column=name
            )


def _infer_label(series, name: str, task: Task | None) -> tuple[Task, tuple, Kind]:
    _check_scalar(series, name)
    if series.isna().any():
        row = _first_bad_row(series.isna().to_numpy())
        raise TableError(f"label {name!r} is missing in row {row}", row=row, column=name)
    numeric = _is_numeric(series)
    if numeric:
        values = series.to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            row = _first_bad_row(~np.isfinite(values))
            raise TableError(f"label {name!r} is infinite in row {row}", row=row, column=name)
        integral = bool(np.all(values == np.round(values)))
        distinct = np.unique(values)
        if task is None:
            task = (
                "classification"
                if integral and len(distinct) <= MAX_INTEGER_CLASSES
                else "regression"
            )
        if task == "regression":
            return "regression", (), "numeric"
        if not integral:
            raise TableError(
                f"label {name!r} has fractional values; a classification label must be "
                "whole numbers or text",
                column=name,
            )
        classes: tuple = tuple(int(v) for v in distinct)
        kind: Kind = "numeric"
    else:
        if task == "regression":
            raise TableError(f"label {name!r} is text; regression needs numbers", column=name)
        task = "classification"
        classes = tuple(sorted({str(v) for v in series.unique()}))
        kind = "categorical"
        if len(classes) <= MAX_CLASSES:
            _check_text(series, classes, f"label {name!r}", name)
    if len(classes) < 2:
        raise TableError(
            f"label {name!r} has only one class ({classes[0]!r}); a classifier needs at least two",
            column=name,
        )
    if len(classes) > MAX_CLASSES:
        raise TableError(
            f"label {name!r} has {len(classes)} classes; the limit is {MAX_CLASSES}", column=name
        )
    return "classification", classes, kind


# --- encoding -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Encoder:
    """Turns tables of one feature layout into float64 matrices: numeric columns as they are,
    categorical columns one-hot over a fixed category list (an unseen category encodes as all
    zeros). Build it once per task so every dataset of the task shares one layout."""

    features: tuple[Column, ...]
    output_names: tuple[str, ...] = field(init=False)

    def __post_init__(self):
        names: list[str] = []
        for column in self.features:
            if column.kind == "numeric":
                names.append(column.name)
            else:
                names.extend(f"{column.name}={category}" for category in column.categories)
        object.__setattr__(self, "output_names", tuple(names))

    @classmethod
    def for_schemas(cls, task: Schema, others: Iterable[Schema] = ()) -> Encoder:
        """An encoder for the task's feature columns, with categories from every schema."""
        others = list(others)
        features = []
        for column in task.features:
            if column.kind == "categorical":
                seen = set(column.categories)
                for other in others:
                    try:
                        seen.update(other.column(column.name).categories)
                    except KeyError:
                        continue
                column = Column(column.name, "categorical", tuple(sorted(seen)))
            features.append(column)
        return cls(tuple(features))

    def transform(self, frame) -> np.ndarray:
        blocks = []
        for column in self.features:
            if column.name not in frame.columns:
                raise TableError(f"feature column {column.name!r} not found", column=column.name)
            series = frame[column.name]
            if column.kind == "numeric":
                if not _is_numeric(series):
                    raise TableError(f"column {column.name!r} is not numeric", column=column.name)
                blocks.append(series.to_numpy(dtype=np.float64)[:, None])
            else:
                values = series.astype(str).to_numpy()
                categories = np.asarray(column.categories, dtype=object)
                blocks.append((values[:, None] == categories[None, :]).astype(np.float64))
        if not blocks:
            return np.empty((len(frame), 0))
        return np.hstack(blocks)


def labels(frame, schema: Schema) -> np.ndarray:
    """The label column as an array: float64 for regression, int64 or str for classes."""
    series = frame[schema.label]
    if schema.task == "regression":
        return series.to_numpy(dtype=np.float64)
    if schema.label_kind == "numeric":
        return series.to_numpy(dtype=np.float64).astype(np.int64)
    return series.astype(str).to_numpy()


# --- spreadsheet formulas -----------------------------------------------------------------

#: A text cell starting with one of these is run as a formula by spreadsheet programs that
#: open a CSV (OWASP's "CSV injection": ``=HYPERLINK(...)``, ``@SUM(...)``, ``+cmd|...``).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _is_formula(cell: str) -> bool:
    """Whether a text cell would be read as a formula: it starts with a formula prefix and
    is not a number (``-1.5`` and ``+3`` are numbers to a spreadsheet, not formulas)."""
    if not cell.startswith(FORMULA_PREFIXES):
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return False


def formula_cells(frame, schema: Schema) -> dict[str, int]:
    """Rows per text column (features and a text label) whose cell a spreadsheet would run
    as a formula; columns without any are left out. The schema already lists each text
    column's few distinct values, so rows are counted only where one of them is a formula."""
    text = {c.name: c.categories for c in schema.features if c.kind == "categorical"}
    if schema.label_kind == "categorical":
        text[schema.label] = schema.classes
    found = {}
    for name, values in text.items():
        formulas = [v for v in values if _is_formula(v)]
        if formulas:
            found[name] = int(frame[name].astype(str).isin(formulas).sum())
    return found


def neutralise_formulas(raw: bytes) -> bytes:
    """A CSV file with every formula cell (:func:`_is_formula`) prefixed by ``'`` so that a
    spreadsheet shows it as text; every other cell, and the row order, as they were."""
    records = csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for record in records:
        writer.writerow(["'" + cell if _is_formula(cell) else cell for cell in record])
    return out.getvalue().encode()


# --- identity -----------------------------------------------------------------------------


def row_hashes(frame, columns: Sequence[str] | None = None) -> np.ndarray:
    """A 64-bit fingerprint per row, independent of column order and of int/float spelling
    (``1`` and ``1.0`` hash alike), for exact-duplicate detection within and across files."""
    import pandas as pd

    names = sorted(columns if columns is not None else frame.columns)
    canonical = pd.DataFrame(
        {
            name: (
                frame[name].astype(np.float64)
                if _is_numeric(frame[name])
                else frame[name].astype(str)
            )
            for name in names
        }
    )
    return pd.util.hash_pandas_object(canonical, index=False).to_numpy(dtype=np.uint64)


def _json_scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
