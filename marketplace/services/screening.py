"""Screening an upload before it goes on sale: replicated data, label-flip poisoning, backdoor
triggers, and the provider's own quality report.

:func:`marketplace.services.datasets.dataset_create` stores an upload as SCREENING (an exact
copy of another provider's rows is HELD at once) and a worker runs :func:`dataset_screen`,
which ends in PUBLISHED or HELD. Each check is a measured number with its threshold:

* **near duplicates** — :func:`~valuation.core.detection.dataset_similarity` against every
  other provider's published or held dataset with the same features and label; at
  ``DATAFAIR_SIMILARITY_HOLD`` or more the upload is held.
* **label flips** — :class:`~valuation.core.detection.PoisonScreen` flags the rows the
  detectors value lowest against a *reference*: other providers' published compatible rows
  when there are any, else the upload itself cross-fitted (each half screened against the
  other; from :data:`MIN_SELF_REFERENCE_ROWS` rows only). A k-NN probe model
  (:data:`PROBE_MODEL`: flipped labels poison its neighbourhoods directly, while a linear
  model shrugs off symmetric flips) is refitted without the flagged rows and scored on the
  reference. Held when that raises the accuracy by at least ``DATAFAIR_POISON_HOLD_POINTS``
  points *and* the reference rows it fixes outnumber those it breaks beyond chance
  (one-sided sign test, :data:`POISON_P_VALUE`): dropping the hardest 10% of a clean small
  upload moves the accuracy by a few rows either way, which is not evidence of poisoning.
* **backdoor triggers** — the LAVA screen (``PoisonScreen(methods=("lava",))``, against the
  same reference). Held when most of its flagged rows (at least two, more than half) share
  one value of a feature that lies far outside the reference's range for it (modified
  z-score above :data:`~valuation.core.quality.OUTLIER_THRESHOLD`) and at least
  :data:`TRIGGER_LABEL_SHARE` of those rows carry one label: a pattern tied to a label.
  Clean data rarely repeats an extreme value exactly; a planted trigger does.
* **the provider's report** — :func:`~valuation.core.quality.cross_fitted_quality_report`
  on the upload alone (no consumer's data), stored in ``quality["report"]``.

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

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from scipy.stats import binom

from marketplace.models import Dataset
from marketplace.services.audit import audit_record
from valuation.core.catalog import DEFAULT_MODEL, make_model
from valuation.core.dataset import Dataset as Rows
from valuation.core.detection import PoisonScreen, dataset_similarity
from valuation.core.quality import OUTLIER_THRESHOLD, cross_fitted_quality_report
from valuation.core.tabular import Encoder, Schema, labels, read_table
from valuation.core.utility import ModelUtility
from work.services import TRANSIENT

logger = logging.getLogger(__name__)

#: Rows of the upload the detectors and the report see at most (a seeded sample beyond).
SAMPLE_ROWS = 2000
#: Rows of other providers' data the label screens are judged against at most.
REFERENCE_ROWS = 2000
#: Rows of each side a similarity asks about at most; each is compared with every row of the
#: other side, so the share is estimated without the dilution of sampling both sides.
SIMILARITY_ROWS = 2000
#: The model refitted to measure the label-flip screen (module docstring).
PROBE_MODEL = "knn"
#: Without other providers' data, the label-flip screen judges an upload against itself only
#: from this many rows: a k-NN fitted on a few dozen rows moves by whole rows when two are
#: dropped, clean or not.
MIN_SELF_REFERENCE_ROWS = 200
#: A label-flip hold also needs the sign test's p-value below this.
POISON_P_VALUE = 0.01
#: Share of a trigger group's rows that must carry one label.
TRIGGER_LABEL_SHARE = 0.9
#: The Celery task that screens one dataset (marketplace/tasks.py).
SCREEN_DATASET = "marketplace.screen_dataset"


@dataclass
class Findings:
    """What the checks measured (``numbers``, stored in ``quality``) and why to hold."""

    reasons: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)


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
        findings = _screen(dataset)
    except TRANSIENT:
        raise  # the database was briefly unreachable: the unit is retried
    except Exception as exc:  # a bug or a corrupt file must not leave the upload in limbo
        logger.exception("screening dataset %s failed", dataset_id)
        findings = Findings(reasons=[f"screening could not finish ({type(exc).__name__}: {exc})"])
    return _record(dataset_id, findings)


def screening_abandon(dataset_id: int, reason: str) -> None:
    """Hold a dataset whose screening was given up (its worker was lost, or it failed, on
    every attempt), with the reason, for staff to review."""
    _record(dataset_id, Findings(reasons=[f"screening could not finish: it {reason}"]))


def _record(dataset_id: int, findings: Findings) -> Dataset:
    """Write a screening's verdict, only if the dataset is still SCREENING."""
    with transaction.atomic():
        locked = Dataset.objects.select_for_update().get(pk=dataset_id)
        if locked.status != Dataset.Status.SCREENING:
            return locked
        locked.quality = {**locked.quality, **findings.numbers}
        if findings.reasons:
            locked.status = Dataset.Status.HELD
            locked.hold_reason = "; ".join(findings.reasons) + "; held for review"
        else:
            locked.status = Dataset.Status.PUBLISHED
        locked.save(update_fields=["quality", "status", "hold_reason"])
        audit_record(
            actor=None,
            action="dataset.screen",
            obj=locked,
            data={"status": locked.status, "reasons": findings.reasons},
        )
    return locked


# --- the checks -------------------------------------------------------------------------------


def _frame(dataset: Dataset):
    with dataset.columnar_file.open("rb") as handle:
        return read_table(handle.read(), name=dataset.columnar_file.name)


def _sample(n: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= limit else np.sort(rng.choice(n, limit, replace=False))


def _screen(dataset: Dataset) -> Findings:
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
    worst: tuple[Dataset, float] | None = None
    parts, offset = [], 0
    for other in compatible:
        other_frame = _frame(other)
        other_X, other_y = encoder.transform(other_frame), labels(other_frame, schema)
        del other_frame
        sm = _similarity(X, other_X, seeds)
        if sm > 0:
            similar_to[str(other.pk)] = sm
            if worst is None or sm > worst[1]:
                worst = (other, sm)
        if picked is not None and other.status == Dataset.Status.PUBLISHED:
            mine = picked[(picked >= offset) & (picked < offset + other.n_rows)] - offset
            parts.append((other_X[mine], other_y[mine]))
            offset += other.n_rows
    findings.numbers["similar_to"] = similar_to
    _hold_if_similar(worst, findings)
    upload = Rows(X[rows], y[rows])
    if schema.task == "classification":
        reference = (
            Rows(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
            if parts
            else None
        )
        _check_label_flips(upload, reference, findings, seed)
        _check_trigger(upload, reference, findings, seed, encoder.output_names)
    task = schema.task
    report = cross_fitted_quality_report(
        Rows(X, y),
        model=make_model(DEFAULT_MODEL[task], task),
        task=task,
        max_rows=SAMPLE_ROWS,
        random_state=seed,
        n_estimators=settings.DATAFAIR_DETECTOR_BAGS,
    )
    findings.numbers["report"] = report.to_dict()
    return findings


def _similarity(X, other_X, seeds: np.random.Generator) -> float:
    """The upload's similarity to one compatible dataset (seeded from ``seeds``)."""
    seed = int(seeds.integers(2**32))
    return round(dataset_similarity(X, other_X, max_rows=SIMILARITY_ROWS, random_state=seed), 4)


def _hold_if_similar(worst: tuple[Dataset, float] | None, findings: Findings) -> None:
    """Hold the upload when its most similar dataset reaches the hold. The reason names no
    other provider's dataset (its owner reads it); which one is in ``similar_to``, which only
    staff read whole (:func:`marketplace.selectors.datasets.dataset_quality_for`)."""
    if worst is not None and worst[1] >= settings.DATAFAIR_SIMILARITY_HOLD:
        findings.reasons.append(
            f"{worst[1]:.0%} of its rows and those of another provider's dataset are near "
            f"duplicates of each other (similarity {worst[1]:.2f} ≥ "
            f"{settings.DATAFAIR_SIMILARITY_HOLD:g})"
        )


def _folds(upload: Rows, reference: Rows | None, seed: int) -> list[tuple[Rows, Rows]]:
    """(screened rows, reference) pairs: the upload against the reference, or each half of
    the upload against the other half."""
    if reference is not None:
        return [(upload, reference)]
    order = np.random.default_rng(seed).permutation(upload.n_rows)
    halves = order[::2], order[1::2]
    return [
        (Rows(upload.X[a], upload.y[a]), Rows(upload.X[b], upload.y[b]))
        for a, b in (halves, halves[::-1])
    ]


def _check_label_flips(upload: Rows, reference: Rows | None, findings, seed: int) -> None:
    if reference is None and upload.n_rows < MIN_SELF_REFERENCE_ROWS:
        findings.numbers["label_flips"] = {
            "reference": "none",
            "skipped": f"no other provider's data to judge it by, and fewer than "
            f"{MIN_SELF_REFERENCE_ROWS} rows to judge it by itself",
        }
        return
    fixed = broken = scored = flagged = 0
    for rows, judge in _folds(upload, reference, seed):
        screen = PoisonScreen(random_state=seed, n_estimators=settings.DATAFAIR_DETECTOR_BAGS)
        screen = screen.fit(rows, judge)
        game = ModelUtility(
            make_model(PROBE_MODEL, "classification"), "accuracy", task="classification"
        ).bind(rows, judge)
        kept = tuple(sorted(set(range(rows.n_rows)) - set(screen.flagged_.tolist())))
        before = game.fitted_model(tuple(range(rows.n_rows))).predict(judge.X) == judge.y
        after = game.fitted_model(kept).predict(judge.X) == judge.y
        fixed += int((after & ~before).sum())
        broken += int((before & ~after).sum())
        scored += judge.n_rows
        flagged += screen.flagged_.size
    change = 100 * (fixed - broken) / scored
    p_value = float(binom.sf(fixed - 1, fixed + broken, 0.5)) if fixed + broken else 1.0
    findings.numbers["label_flips"] = {
        "reference": "other providers" if reference is not None else "cross-fitted",
        "flagged_rows": flagged,
        "change_points": round(change, 2),
        "p_value": round(p_value, 4),
    }
    threshold = settings.DATAFAIR_POISON_HOLD_POINTS
    if change >= threshold and p_value < POISON_P_VALUE:
        findings.reasons.append(
            f"dropping its {flagged} lowest-valued rows raises a k-NN model's accuracy on "
            f"{_judged_by(reference)} by {change:.1f} points (≥ {threshold:g}; p = "
            f"{p_value:.3f}): likely flipped labels"
        )


def _judged_by(reference: Rows | None) -> str:
    return "other providers' data" if reference is not None else "its own other half"


def _check_trigger(upload: Rows, reference, findings, seed: int, columns) -> None:
    found = None
    for rows, judge in _folds(upload, reference, seed):
        screen = PoisonScreen(methods=("lava",), random_state=seed).fit(rows, judge)
        found = found or _shared_far_value(
            rows.X[screen.flagged_], rows.y[screen.flagged_], judge.X
        )
    findings.numbers["trigger"] = None
    if found is None:
        return
    column, value, z, count, label, share = found
    findings.numbers["trigger"] = {
        "column": columns[column],
        "value": value,
        "z": round(z, 2),
        "rows": count,
        "label": label,
        "label_share": round(share, 4),
    }
    findings.reasons.append(
        f"{count} of the rows the LAVA screen flags share {columns[column]} = {value:g}, far "
        f"outside {_judged_by(reference)} (robust z {z:.1f} > {OUTLIER_THRESHOLD:g}), and "
        f"{share:.0%} of them are labelled {label}: a likely backdoor trigger"
    )


def _shared_far_value(X: np.ndarray, y: np.ndarray, reference: np.ndarray):
    """The (column, value, z, rows, label, label share) of a trigger among flagged rows:
    more than half of them (two at least) share a value far outside the reference's range,
    and at least TRIGGER_LABEL_SHARE of those carry one label; None when there is none."""
    median = np.median(reference, axis=0)
    mad = np.median(np.abs(reference - median), axis=0)
    best = None
    for column in np.flatnonzero(mad > 0):
        values, counts = np.unique(X[:, column], return_counts=True)
        value, count = values[counts.argmax()], int(counts.max())
        z = float(0.6745 * abs(value - median[column]) / mad[column])
        if count < 2 or 2 * count <= len(X) or z <= OUTLIER_THRESHOLD:
            continue
        classes, per_class = np.unique(y[X[:, column] == value], return_counts=True)
        share = per_class.max() / count
        if share >= TRIGGER_LABEL_SHARE and (best is None or count > best[3]):
            label = classes[per_class.argmax()]
            best = (int(column), float(value), z, count, _plain(label), float(share))
    return best


def _plain(label):
    return label.item() if hasattr(label, "item") else label
