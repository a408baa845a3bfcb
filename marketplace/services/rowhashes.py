"""Row fingerprints in the database: stored in bulk, matched against the market in one query.

An upload of a million rows has a million 64-bit row hashes (:func:`valuation.core.tabular.
row_hashes`). Going through the ORM, that was a million model objects to save and a hundred
``value IN (…10,000 values…)`` queries to find overlaps: 85% of a 45-second upload. Here,
on PostgreSQL the hashes are written with one binary ``COPY`` (built by numpy) and matched
by one query against an array literal (``IN (SELECT unnest(…))``); on SQLite (the embedded
defaults) they are written with one ``executemany`` and matched through a temporary table.
Both run inside the caller's transaction; ``benchmarks/limits.py`` measures them.
"""

from __future__ import annotations

import numpy as np
from django.db import connection

from marketplace.models import Dataset, RowHash

__all__ = ["overlaps", "store"]


#: PostgreSQL's binary COPY: signature, flags, header extension; and the end-of-data mark.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)
#: One tuple of (dataset_id bigint, value bigint): field count, then length and value each.
_COPY_TUPLE = np.dtype([("n", ">i2"), ("n_id", ">i4"), ("id", ">i8"), ("n_v", ">i4"), ("v", ">i8")])


def _signed(hashes: np.ndarray) -> np.ndarray:
    """The hashes as the signed 64-bit integers the column holds."""
    return np.ascontiguousarray(hashes, dtype=np.uint64).view(np.int64)


def _binary_copy(dataset_id: int, values: np.ndarray) -> bytes:
    """The rows ``(dataset_id, value)`` in PostgreSQL's binary COPY format, built by numpy."""
    tuples = np.empty(values.size, dtype=_COPY_TUPLE)
    tuples["n"], tuples["n_id"], tuples["n_v"] = 2, 8, 8
    tuples["id"], tuples["v"] = dataset_id, values
    return _COPY_HEADER + tuples.tobytes() + _COPY_TRAILER


def store(dataset: Dataset, hashes: np.ndarray) -> None:
    """Record the (distinct) row hashes of ``dataset``."""
    table = connection.ops.quote_name(RowHash._meta.db_table)
    values = _signed(hashes)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            statement = f"COPY {table} (dataset_id, value) FROM STDIN WITH (FORMAT BINARY)"
            with cursor.cursor.copy(statement) as copy:
                copy.write(_binary_copy(dataset.pk, values))
        else:
            cursor.executemany(
                f"INSERT INTO {table} (dataset_id, value) VALUES (%s, %s)",
                [(dataset.pk, v) for v in values.tolist()],
            )


def overlaps(hashes: np.ndarray, owner) -> dict[int, int]:
    """For each dataset of another owner, how many of these (distinct) hashes it holds."""
    values = _signed(hashes).tolist()
    if not values:
        return {}
    rows = connection.ops.quote_name(RowHash._meta.db_table)
    datasets = connection.ops.quote_name(Dataset._meta.db_table)
    counting = (
        f"SELECT h.dataset_id, COUNT(*) FROM {rows} h JOIN {datasets} d ON d.id = h.dataset_id "
        "WHERE d.owner_id <> %s AND h.value {match} GROUP BY h.dataset_id"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array literal: adapting a million Python ints one by one costs seconds.
            array = "{" + ",".join(map(str, values)) + "}"
            match = "IN (SELECT unnest(%s::bigint[]))"
            cursor.execute(counting.format(match=match), [owner.pk, array])
            return dict(cursor.fetchall())
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS upload_hashes (value INTEGER)")
        cursor.execute("DELETE FROM upload_hashes")
        cursor.executemany("INSERT INTO upload_hashes (value) VALUES (%s)", [(v,) for v in values])
        cursor.execute(counting.format(match="IN (SELECT value FROM upload_hashes)"), [owner.pk])
        found = dict(cursor.fetchall())
        cursor.execute("DELETE FROM upload_hashes")
        return found
