"""Loading a job's data from storage into the engine's Datasets.

A job's ``spec`` names stored files (each provider's columnar copy, the consumer's
validation file and optional baseline), the label and the feature layout. Workers load them
once per process and data (:func:`job_data`), so the chunks of a task's jobs that land on
the same worker share it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from django.core.files.storage import default_storage

from valuation.core.dataset import Dataset
from valuation.core.tabular import Column, Encoder, Schema, labels, read_table


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


def load_job_data(spec: dict) -> JobData:
    """Build (train grouped by player, validation, baseline) from a job spec."""
    features = tuple(Column.from_dict(c) for c in spec["features"])
    encoder = Encoder(features)
    schema = Schema(features, spec["label"], spec["task"], label_kind=spec["label_kind"])
    Xs, ys, groups = [], [], []
    for player in spec["players"]:
        X, y = _arrays(player["path"], encoder, schema)
        Xs.append(X)
        ys.append(y)
        groups.append(np.full(len(y), player["name"], dtype=object))
    train = Dataset(
        np.concatenate(Xs),
        np.concatenate(ys),
        groups=np.concatenate(groups),
        feature_names=list(encoder.output_names),
    )
    valid = Dataset(*_arrays(spec["valid"], encoder, schema))
    baseline = (
        Dataset(*_arrays(spec["baseline"], encoder, schema)) if spec.get("baseline") else None
    )
    return JobData(train, valid, baseline)


#: The parts of a job spec that name the data it reads; its model, metric and method do
#: not, so the jobs of one task (payout basis and bundle table) share one loaded copy.
DATA_KEYS = ("task", "label", "label_kind", "features", "players", "valid", "baseline")


def job_data(spec: dict) -> JobData:
    """:func:`load_job_data` memoised per worker process on the data ``spec`` names (stored
    files are never rewritten, so their names identify them). At most two sets are kept:
    at the row limits one is a few hundred MB."""
    return _cached_job_data(json.dumps({key: spec.get(key) for key in DATA_KEYS}, sort_keys=True))


@lru_cache(maxsize=2)
def _cached_job_data(data_key: str) -> JobData:
    return load_job_data(json.loads(data_key))
