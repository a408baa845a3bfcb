"""Loading a job's data from storage into the engine's Datasets.

A job's ``spec`` names stored files (each provider's columnar copy, the consumer's
validation file and optional baseline), the label and the feature layout. Workers load them
once per process and data (:func:`job_data`), so the chunks of a task's jobs that land on
the same worker share it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from django.core.files.storage import default_storage

from valuation.core.dataset import Dataset
from valuation.core.tabular import Column, Encoder, Schema, labels, read_table
from valuation.spec import JobSpec


@dataclass(frozen=True)
class JobData:
    train: Dataset
    valid: Dataset
    baseline: Dataset | None


def _read(path: str):
    with default_storage.open(path, "rb") as handle:
        return read_table(handle.read(), name=path.rsplit("/", 1)[-1])


def _arrays(path: str, encoder: Encoder, schema: Schema) -> tuple[np.ndarray, np.ndarray]:
    frame = _read(path)
    return encoder.transform(frame), labels(frame, schema)


def load_job_data(spec: JobSpec) -> JobData:
    """Build (train grouped by player, validation, baseline) from a job spec."""
    features = tuple(Column.from_dict(c) for c in spec.features)
    encoder = Encoder(features)
    schema = Schema(features, spec.label, spec.task, label_kind=spec.label_kind)
    Xs, ys, groups = [], [], []
    for player in spec.players:
        X, y = _arrays(player.path, encoder, schema)
        Xs.append(X)
        ys.append(y)
        groups.append(np.full(len(y), player.name, dtype=object))
    train = Dataset(
        np.concatenate(Xs),
        np.concatenate(ys),
        groups=np.concatenate(groups),
        feature_names=list(encoder.output_names),
    )
    valid = Dataset(*_arrays(spec.valid, encoder, schema))
    baseline = Dataset(*_arrays(spec.baseline, encoder, schema)) if spec.baseline else None
    return JobData(train, valid, baseline)


def job_data(spec: JobSpec) -> JobData:
    """:func:`load_job_data` memoised per worker process on the data ``spec`` names
    (:meth:`JobSpec.data`: its model, metric and method do not, so the jobs of one task share
    one loaded copy; stored files are never rewritten, so their names identify them). At most
    two sets are kept: at the row limits one is a few hundred MB."""
    return _cached_job_data(_Named(json.dumps(spec.data(), sort_keys=True), spec))


@dataclass(frozen=True)
class _Named:
    """A spec keyed by the data it names (what the cache compares)."""

    key: str
    spec: JobSpec = field(compare=False)


@lru_cache(maxsize=2)
def _cached_job_data(named: _Named) -> JobData:
    return load_job_data(named.spec)
