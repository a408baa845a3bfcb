"""A screened dataset's quality document, as the API serves it to its owner, against the
schema: the upload's numbers, every screen's (a trigger found among them) and the report."""

from __future__ import annotations

from marketplace.services.datasets import dataset_create
from tests.contract.openapi import load_schema, token_header
from tests.marketplace.test_screening import trigger_csv
from tests.support.builders import make_user, screened, table_csv, upload

schema = load_schema()


def test_a_held_upload_s_quality_conforms(db):
    other, provider = make_user("olga", "provider"), make_user("paula", "provider")
    reference = dataset_create(
        owner=other,
        upload=upload(table_csv(120, seed=6)),
        title="reference",
        label_column="y",
        license="CC0-1.0",
    )
    screened(reference.pk)
    held = dataset_create(
        owner=provider,
        upload=upload(trigger_csv(120, 1)),
        title="planted",
        label_column="y",
        license="CC0-1.0",
    )
    assert screened(held.pk).status == "held"
    case = schema["/api/datasets/{id}/"]["GET"].Case(path_parameters={"id": held.pk})
    response = case.call_and_validate(headers=token_header(provider))
    assert response.status_code == 200
    quality = response.json()["quality"]
    assert quality["version"] == 2 and quality["duplicate_rows_within_file"] == 0
    screening = quality["screening"]
    assert all(sm > 0 for sm in screening["similar_to"].values())
    assert screening["label_flips"]["reference"] == "other providers"
    assert screening["trigger"]["column"] == "f1" and screening["trigger"]["label"] == 1
    assert quality["report"]["n_rows"] == 120 and quality["report"]["removals"]
