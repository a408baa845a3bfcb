"""Dataset quality documents stored as version 1 (one flat untyped dict) migrate to the typed,
versioned document the readers use, and back."""

import importlib

import pytest
from django.apps import apps

from marketplace.models import Dataset
from marketplace.quality import DatasetQuality
from tests.support.builders import make_user
from valuation.core.detection import LabelFlips, Trigger

migration = importlib.import_module("marketplace.migrations.0014_quality_as_versioned_documents")

UPLOAD = {"duplicate_rows_within_file": 2, "overlap_with_other_providers": 0.25}
REPORT = {
    "n_rows": 80,
    "scorer": "accuracy",
    "suspects": [{"row": 41, "consensus": 0.02, "knn-shapley": -0.004, "lava": -0.9, "fold": 0}],
    "duplicates": [7],
    "label_conflicts": [[3, 9]],
    "outliers": [12],
    "removals": [
        {
            "kind": "all",
            "rows": [7, 12, 41],
            "score_before": 0.9,
            "score_after": 0.92,
            "change": 0.02,
        }
    ],
}
# Documents as version 1 wrote them: a classification upload screened against other
# providers' data, one too small to be judged by itself, a regression upload, an upload whose
# screening could not finish.
CLASSIFICATION = {
    **UPLOAD,
    "similar_to": {"3": 0.0125},
    "label_flips": {
        "reference": "other providers",
        "flagged_rows": 8,
        "change_points": 0.7,
        "p_value": 0.31,
    },
    "trigger": {
        "column": "f1",
        "value": 9.0,
        "z": 41.2,
        "rows": 6,
        "label": "yes",
        "label_share": 1.0,
    },
    "report": REPORT,
}
SKIPPED = {
    **UPLOAD,
    "similar_to": {},
    "label_flips": {"reference": "none", "skipped": "fewer than 200 rows"},
    "trigger": None,
    "report": REPORT,
}
REGRESSION = {**UPLOAD, "similar_to": {"3": 0.5}, "report": REPORT}
UNFINISHED = dict(UPLOAD)


def dataset_with(quality: dict, n: int) -> Dataset:
    return Dataset.objects.create(
        owner=make_user(f"old-quality-{n}", "provider"),
        title=f"old {n}",
        license="CC0-1.0",
        label_column="y",
        original_name="old.csv",
        original_file="datasets/old.csv",
        columnar_file="datasets/old.parquet",
        content_sha256="0" * 64,
        schema={},
        n_rows=80,
        n_columns=3,
        task_type="classification",
        quality=quality,
    )


@pytest.mark.django_db
def test_stored_quality_documents_migrate_forward_and_back():
    stored = [CLASSIFICATION, SKIPPED, REGRESSION, UNFINISHED]
    datasets = [dataset_with(quality, n) for n, quality in enumerate(stored)]
    with pytest.raises(ValueError, match="a quality document of version None; this reads 2"):
        DatasetQuality.from_dict(datasets[0].quality)
    migration.forward(apps, None)
    for dataset in datasets:
        dataset.refresh_from_db()
    classification, skipped, regression, unfinished = (
        DatasetQuality.from_dict(d.quality) for d in datasets
    )
    assert classification.duplicate_rows_within_file == 2
    assert classification.screening.similar_to == {"3": 0.0125}
    assert classification.screening.label_flips == LabelFlips("other providers", 8, 0.7, 0.31)
    assert classification.screening.trigger == Trigger("f1", 9.0, 41.2, 6, "yes", 1.0)
    assert classification.report.removals[0].rows == (7, 12, 41)
    assert classification.report.suspects[0]["knn-shapley"] == -0.004
    assert skipped.screening.label_flips == LabelFlips("none", skipped="fewer than 200 rows")
    assert skipped.screening.trigger is None
    assert regression.screening.label_flips is None and regression.similar_to == {"3": 0.5}
    assert unfinished.screening is None and unfinished.report is None
    # What the code writes reads back through the migration unchanged.
    for quality in (classification, skipped, regression, unfinished):
        there_and_back = migration.quality_forward(migration.quality_backward(quality.to_dict()))
        assert DatasetQuality.from_dict(there_and_back) == quality
    migration.forward(apps, None)  # a second run leaves version 2 alone
    migration.backward(apps, None)
    assert [Dataset.objects.get(pk=d.pk).quality for d in datasets] == stored
