"""Screening an upload before it goes on sale: replicated data, label-flip poisoning, backdoor
triggers, and the provider's own quality report.

:func:`marketplace.services.datasets.dataset_create` stores an upload as SCREENING (an exact
copy of another provider's rows is HELD at once) and a worker runs :func:`dataset_screen`,
which ends in PUBLISHED or HELD. Each check is a measured number with its threshold. The
verdict is :mod:`valuation.core.detection`'s (``screen_similarity``, ``screen_labels``: the
same as ``python -m valuation screen``), with this deployment's thresholds (:func:`rules`):

* **near duplicates** — :func:`~valuation.core.detection.dataset_similarity` against every
  other provider's published or held dataset with the same features and label; at
  ``DATAFAIR_SIMILARITY_HOLD`` or more the upload is held.
* **label flips** — against other providers' published compatible rows when there are any,
  else the upload itself cross-fitted; held when dropping the flagged rows raises a k-NN
  probe's accuracy by ``DATAFAIR_POISON_HOLD_POINTS`` points beyond chance.
* **backdoor triggers** — the LAVA screen against the same reference.
* **the provider's report** — :func:`~valuation.core.quality.cross_fitted_quality_report`
  on the upload alone (no consumer's data).

What was measured completes the dataset's quality document (:class:`~marketplace.quality.
DatasetQuality`: ``screening``, the screens' numbers, and ``report``).

The label screens need classes, so a regression upload gets the similarity check and the
report only. Cost is bounded whatever the upload's size: the detectors and the report see a
seeded sample of at most :data:`SAMPLE_ROWS` rows, the reference at most
:data:`REFERENCE_ROWS`, and each similarity asks about at most :data:`SIMILARITY_ROWS` rows a
side, each compared with every row of the other dataset (an estimate of the share of
near-duplicated rows; exact copies are still caught on every row by the row hashes at
upload). Work grows linearly with the number
of compatible datasets on the market, one similarity each; they are read one at a time and
let go (only their share of the reference sample is kept), so memory does not grow with the
market, and the distances of a similarity are computed in fixed-size tiles.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
from django.conf import settings
from django.db import transaction

from marketplace.models import Dataset
from marketplace.quality import DatasetQuality, IntrinsicReport
from marketplace.services.audit import audit_record
from valuation.core.catalog import DEFAULT_MODEL, make_model
from valuation.core.dataset import Dataset as Rows
from valuation.core.detection import (
    Findings,
    ScreeningRules,
    ScreenNumbers,
    dataset_similarity,
    screen_labels,
    screen_similarity,
)
from valuation.core.quality import cross_fitted_quality_report
from valuation.core.tabular import Encoder, Schema, labels, read_table
from work.services import TRANSIENT

logger = logging.getLogger(__name__)

#: Rows of the upload the detectors and the report see at most (a seeded sample beyond).
SAMPLE_ROWS = 2000
#: Rows of other providers' data the label screens are judged against at most.
REFERENCE_ROWS = 2000
#: Rows of each side a similarity asks about at most; each is compared with every row of the
#: other side, so the share is estimated without the dilution of sampling both sides.
SIMILARITY_ROWS = 2000
#: The Celery task that screens one dataset (marketplace/tasks.py).
SCREEN_DATASET = "marketplace.screen_dataset"


def rules() -> ScreeningRules:
    """This deployment's screening thresholds (its settings)."""
    return ScreeningRules(
        similarity_hold=settings.DATAFAIR_SIMILARITY_HOLD,
        poison_points=settings.DATAFAIR_POISON_HOLD_POINTS,
        n_estimators=settings.DATAFAIR_DETECTOR_BAGS,
    )


def dataset_screen(dataset_id: int) -> Dataset:
    """Screen a SCREENING dataset and publish or hold it; any other dataset is returned as it is.

    The checks read files and fit models for seconds, so they run outside a transaction;
    the verdict is written under a row lock, and only if the dataset is still SCREENING, so a
    redelivered or repeated task changes nothing. A check that fails unexpectedly holds the
    dataset with the error for staff to see, rather than leaving it screening forever.
    """
    dataset = Dataset.objects.select_related("owner").get(pk=dataset_id)
    if dataset.status != Dataset.Status.SCREENING:
        return dataset
    try:
        findings, report = _screen(dataset)
    except TRANSIENT:
        raise  # the database was briefly unreachable: the unit is retried
    except Exception as exc:  # a bug or a corrupt file must not leave the upload in limbo
        logger.exception("screening dataset %s failed", dataset_id)
        return _record(dataset_id, [f"screening could not finish ({type(exc).__name__}: {exc})"])
    return _record(dataset_id, findings.reasons, findings.numbers, report)


def screening_abandon(dataset_id: int, reason: str) -> None:
    """Hold a dataset whose screening was given up (its worker was lost, or it failed, on
    every attempt), with the reason, for staff to review."""
    _record(dataset_id, [f"screening could not finish: it {reason}"])


def _record(
    dataset_id: int,
    reasons: list[str],
    numbers: ScreenNumbers | None = None,
    report: IntrinsicReport | None = None,
) -> Dataset:
    """Write a screening's verdict — held for ``reasons``, if any — and what it measured
    (None: it could not finish) into the upload's quality document, only if the dataset is
    still SCREENING."""
    with transaction.atomic():
        locked = Dataset.objects.select_for_update().get(pk=dataset_id)
        if locked.status != Dataset.Status.SCREENING:
            return locked
        quality = DatasetQuality.from_dict(locked.quality)
        locked.quality = dataclasses.replace(quality, screening=numbers, report=report).to_dict()
        if reasons:
            locked.status = Dataset.Status.HELD
            locked.hold_reason = "; ".join(reasons) + "; held for review"
        else:
            locked.status = Dataset.Status.PUBLISHED
        locked.save(update_fields=["quality", "status", "hold_reason"])
        audit_record(
            actor=None,
            action="dataset.screen",
            obj=locked,
            data={"status": locked.status, "reasons": reasons},
        )
    return locked


# --- the checks -------------------------------------------------------------------------------


def _frame(dataset: Dataset):
    with dataset.columnar_file.open("rb") as handle:
        return read_table(handle.read(), name=dataset.columnar_file.name)


def _sample(n: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= limit else np.sort(rng.choice(n, limit, replace=False))


def _screen(dataset: Dataset) -> tuple[Findings, IntrinsicReport]:
    """The screens' verdict on ``dataset`` and the provider's report."""
    schema = Schema.from_dict(dataset.schema)
    candidates = (
        Dataset.objects.filter(status__in=[Dataset.Status.PUBLISHED, Dataset.Status.HELD])
        .exclude(owner=dataset.owner_id)
        .order_by("pk")
    )
    compatible = [
        other
        for other in candidates
        if other.label_column == dataset.label_column
        and not schema.problems_with(Schema.from_dict(other.schema))
    ]
    encoder = Encoder.for_schemas(schema, [Schema.from_dict(d.schema) for d in compatible])
    frame = _frame(dataset)
    X, y = encoder.transform(frame), labels(frame, schema)
    del frame
    seed = int(dataset.content_sha256[:8], 16)
    rng = np.random.default_rng(seed + 1)
    rows = _sample(len(y), SAMPLE_ROWS, rng)
    # The reference: a seeded sample of the union of the published compatible datasets,
    # drawn by position before any is read, so each is read once and then let go.
    published = [o for o in compatible if o.status == Dataset.Status.PUBLISHED]
    picked = _sample(sum(o.n_rows for o in published), REFERENCE_ROWS, rng) if published else None
    findings, seeds = Findings(), np.random.default_rng(seed)
    similar_to: dict[str, float] = {}
    parts, offset = [], 0
    for other in compatible:
        other_frame = _frame(other)
        other_X, other_y = encoder.transform(other_frame), labels(other_frame, schema)
        del other_frame
        sm = _similarity(X, other_X, seeds)
        if sm > 0:
            similar_to[str(other.pk)] = sm
        if picked is not None and other.status == Dataset.Status.PUBLISHED:
            mine = picked[(picked >= offset) & (picked < offset + other.n_rows)] - offset
            parts.append((other_X[mine], other_y[mine]))
            offset += other.n_rows
    screen_similarity(similar_to, rules(), findings)
    upload = Rows(X[rows], y[rows])
    if schema.task == "classification":
        reference = (
            Rows(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
            if parts
            else None
        )
        screen_labels(upload, reference, rules(), findings, seed=seed, columns=encoder.output_names)
    task = schema.task
    report = cross_fitted_quality_report(
        Rows(X, y),
        model=make_model(DEFAULT_MODEL[task], task),
        task=task,
        max_rows=SAMPLE_ROWS,
        random_state=seed,
        n_estimators=settings.DATAFAIR_DETECTOR_BAGS,
    )
    return findings, IntrinsicReport.of(report)


def _similarity(X, other_X, seeds: np.random.Generator) -> float:
    """The upload's similarity to one compatible dataset (seeded from ``seeds``)."""
    seed = int(seeds.integers(2**32))
    return round(dataset_similarity(X, other_X, max_rows=SIMILARITY_ROWS, random_state=seed), 4)
