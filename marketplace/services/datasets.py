"""Publishing a provider's dataset (check the file, type it, store it, fingerprint it),
staff review of held datasets, and handing a dataset's file to the owner and to buyers.

The upload is parsed and checked completely before anything is written; the files are
stored and the rows saved in one transaction, and the stored files are removed again if
that transaction fails, so a refused or failed upload leaves nothing behind. A stored upload
is SCREENING until a worker has screened it (:mod:`marketplace.services.screening`); one
that mostly copies another provider's rows is HELD at once.
"""

from __future__ import annotations

import csv
import hashlib
import io

import numpy as np
import pyarrow.parquet as pq
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import F

from marketplace.models import Dataset, Entitlement
from marketplace.quality import DatasetQuality
from marketplace.selectors.datasets import dataset_entitlement
from marketplace.selectors.insights import entitled_rows
from marketplace.services import rowhashes
from marketplace.services.audit import audit_record
from marketplace.services.errors import Conflict, PermissionDenied, ServiceError
from marketplace.services.screening import SCREEN_DATASET
from marketplace.services.storage import files_with_rows
from marketplace.services.wallet import check_amount
from valuation.core.tabular import (
    TableError,
    formula_cells,
    infer_schema,
    neutralise_formulas,
    read_table,
    row_hashes,
)
from work.services import enqueue

PREVIEW_ROWS = 5


def table_error(exc: TableError, field: str) -> ServiceError:
    return ServiceError(exc.message, field=field, row=exc.row, column=exc.column)


def read_upload(upload, *, field: str, label: str | None = None):
    """Read and check an uploaded table; return (frame, schema, raw bytes)."""
    if upload.size > settings.DATAFAIR_MAX_UPLOAD_BYTES:
        raise ServiceError(
            f"the file is {upload.size} bytes; the limit is {settings.DATAFAIR_MAX_UPLOAD_BYTES}",
            field=field,
        )
    raw = upload.read()
    try:
        frame = read_table(
            raw,
            name=upload.name,
            max_rows=settings.DATAFAIR_MAX_ROWS,
            max_columns=settings.DATAFAIR_MAX_COLUMNS,
        )
        schema = infer_schema(frame, label=label) if label is not None else None
    except TableError as exc:
        raise table_error(exc, field) from None
    return frame, schema, raw


def _preview(frame, policy: str, seed: int) -> list[dict]:
    if policy == Dataset.Preview.NONE:
        return []
    if policy == Dataset.Preview.SAMPLE and len(frame) > PREVIEW_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(len(frame), PREVIEW_ROWS, replace=False))
        sample = frame.iloc[rows]
    else:
        sample = frame.head(PREVIEW_ROWS)
    return [
        {column: _json_value(value) for column, value in row.items()}
        for row in sample.to_dict(orient="records")
    ]


def _json_value(value):
    """A preview cell as JSON can hold it: numbers and text as they are, anything else
    (bytes, decimals, timestamps) as its text."""
    if hasattr(value, "item"):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def dataset_create(
    *,
    owner,
    upload,
    title: str,
    label_column: str,
    license: str,
    description: str = "",
    reserve_price_cents: int = 0,
    preview_policy: str = Dataset.Preview.HEAD,
) -> Dataset:
    if not owner.profile.is_provider:
        raise PermissionDenied("only providers can upload datasets")
    check_amount(reserve_price_cents, "reserve_price_cents", minimum=0)
    frame, schema, raw = read_upload(upload, field="file", label=label_column)
    sha = hashlib.sha256(raw).hexdigest()
    hashes = row_hashes(frame)
    unique_hashes = np.unique(hashes)
    overlaps = rowhashes.overlaps(unique_hashes, owner)
    duplicate_of, overlap = None, 0.0
    if overlaps:
        best = max(overlaps, key=lambda pk: (overlaps[pk], -pk))
        overlap = overlaps[best] / len(unique_hashes)
        if overlap >= settings.DATAFAIR_DUPLICATE_HOLD_FRACTION:
            duplicate_of = Dataset.objects.get(pk=best)
    quality = DatasetQuality(
        duplicate_rows_within_file=int(len(hashes) - len(unique_hashes)),
        overlap_with_other_providers=round(overlap, 6),
    )
    columnar = io.BytesIO()
    frame.to_parquet(columnar, index=False)
    dataset = Dataset(
        owner=owner,
        title=title,
        description=description,
        license=license,
        label_column=label_column,
        reserve_price_cents=reserve_price_cents,
        preview_policy=preview_policy,
        original_name=upload.name,
        content_sha256=sha,
        schema=schema.to_dict(),
        n_rows=len(frame),
        n_columns=frame.shape[1],
        task_type=schema.task,
        preview=_preview(frame, preview_policy, seed=int(sha[:8], 16)),
        quality=quality.to_dict(),
        formula_cells=formula_cells(frame, schema),
        duplicate_of=duplicate_of,
        status=Dataset.Status.SCREENING,
    )
    if duplicate_of is not None:
        dataset.status = Dataset.Status.HELD
        # Which dataset it repeats is for staff (the review page): the owner must not
        # learn another provider's dataset from it (marketplace.selectors.datasets).
        dataset.hold_reason = (
            f"{overlap:.0%} of its rows are also in another provider's dataset; held for review"
        )
    with files_with_rows() as save:
        save(dataset.original_file, f"{sha[:16]}-{upload.name}", raw)
        save(dataset.columnar_file, f"{sha[:16]}.parquet", columnar.getvalue())
        dataset.save()
        rowhashes.store(dataset, unique_hashes)
        audit_record(
            actor=owner,
            action="dataset.publish",
            obj=dataset,
            data={"sha256": sha, "rows": len(frame), "status": dataset.status},
        )
        if dataset.status == Dataset.Status.SCREENING:
            enqueue(SCREEN_DATASET, [dataset.pk])  # sent once this commits
    return dataset


REVIEW_DECISIONS = {"publish": Dataset.Status.PUBLISHED, "reject": Dataset.Status.REJECTED}


def dataset_review(*, dataset: Dataset, user, decision: str, note: str = "") -> Dataset:
    """A staff member publishes or rejects a HELD dataset; the note is kept in the audit
    trail and, on a rejection, shown to the owner with the hold's reason."""
    if not user.is_staff:
        raise PermissionDenied("only staff review held datasets")
    if decision not in REVIEW_DECISIONS:
        raise ServiceError(
            f"decision must be one of {', '.join(REVIEW_DECISIONS)}", field="decision"
        )
    with transaction.atomic():
        locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
        if locked.status != Dataset.Status.HELD:
            raise Conflict(f"only held datasets are reviewed; this one is {locked.status}")
        locked.status = REVIEW_DECISIONS[decision]
        if decision == "reject" and note:
            locked.hold_reason = f"{locked.hold_reason} Rejected by review: {note}".strip()
        locked.save(update_fields=["status", "hold_reason"])
        audit_record(
            actor=user,
            action=f"dataset.review.{decision}",
            obj=locked,
            data={"note": note, "status": locked.status},
        )
    return locked


def dataset_download(*, user, dataset: Dataset, neutralise: bool = False) -> File:
    """Open a dataset's original file for its owner or a buyer; a buyer's download is
    counted and audited (re-downloads are free, so every one is allowed). A buyer of some
    rows only (a row-level order) gets a file of the same format holding those rows.

    With ``neutralise``, a CSV file's formula cells (``Dataset.formula_cells``) come
    prefixed with ``'`` so a spreadsheet shows them as text; without it, the bytes are the
    provider's (a Parquet file, which spreadsheets do not open as CSV, is never changed)."""
    if dataset.owner_id != user.pk:
        entitlement = dataset_entitlement(user=user, dataset=dataset)
        if entitlement is None:
            raise PermissionDenied("buy this dataset (through a task's quote) to download it")
        Entitlement.objects.filter(pk=entitlement.pk).update(download_count=F("download_count") + 1)
        audit_record(actor=user, action="dataset.download", obj=dataset)
        rows = entitled_rows(user=user, dataset_ids=[dataset.pk])[dataset.pk]
    else:
        rows = None
    is_csv = not dataset.original_name.lower().endswith(".parquet")
    rewrite = neutralise and is_csv and bool(dataset.formula_cells)
    if rows is None and not rewrite:
        return dataset.original_file.open("rb")
    with dataset.original_file.open("rb") as handle:
        raw = handle.read()
    if rows is not None:
        raw = rows_of_file(raw, dataset.original_name, sorted(rows))
    if rewrite and not raw.startswith(b"PAR1"):  # Parquet under another name stays as is
        raw = neutralise_formulas(raw)
    return File(io.BytesIO(raw))


def rows_of_file(raw: bytes, name: str, rows: list[int]) -> bytes:
    """The header and the given data rows (0-based) of a CSV or Parquet file, cells as
    they were: CSV cells are copied as text (never re-typed), Parquet rows keep their
    column types."""
    if name.lower().endswith(".parquet"):
        table = pq.read_table(io.BytesIO(raw)).take(rows)
        out = io.BytesIO()
        pq.write_table(table, out)
        return out.getvalue()
    records = csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    wanted = set(rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(next(records))
    for index, record in enumerate(records):
        if index in wanted:
            writer.writerow(record)
    return out.getvalue().encode()
