"""Valuation job specs over small tables stored in the default storage (the test's media
folder, tests/conftest.py)."""

from __future__ import annotations

import io

import pandas as pd
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from sklearn.datasets import load_breast_cancer

from valuation.core.tabular import Encoder, infer_schema
from valuation.spec import JobSpec, PlayerSpec

FEATURES = ["mean radius", "mean texture", "mean smoothness", "worst area"]


def _store(frame: pd.DataFrame, name: str) -> str:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return default_storage.save(f"test/{name}.parquet", ContentFile(buffer.getvalue()))


def cancer_spec(n_players: int = 4, rows: int = 40, *, flip_player: int | None = 0, **extra):
    """Players of ``rows`` rows each from breast cancer; one with all labels flipped."""
    data = load_breast_cancer(as_frame=True).frame
    data = data[[*FEATURES, "target"]].sample(frac=1.0, random_state=0).reset_index(drop=True)
    players = []
    for p in range(n_players):
        part = data.iloc[p * rows : (p + 1) * rows].copy()
        if p == flip_player:
            part["target"] = 1 - part["target"]
        players.append(PlayerSpec(f"d{p}", _store(part, f"player{p}"), rows=len(part)))
    valid = data.iloc[n_players * rows : n_players * rows + 150]
    schema = infer_schema(valid, label="target")
    return JobSpec(
        task=schema.task,
        label="target",
        label_kind=schema.label_kind,
        features=tuple(c.to_dict() for c in Encoder.for_schemas(schema).features),
        players=tuple(players),
        valid=_store(valid, "valid"),
        model="logistic_regression",
        metric="accuracy",
        **extra,
    )
