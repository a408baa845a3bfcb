"""Uploading, browsing and downloading datasets through the API."""

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace.models import Dataset, RowHash
from marketplace.services import rowhashes
from tests.support.builders import client_for, make_user, screened, table_csv, upload

pytestmark = pytest.mark.django_db


def post_dataset(client, data: bytes, name="data.csv", **fields):
    form = {
        "title": "Shop visits",
        "license": "CC-BY-4.0",
        "label_column": "y",
        "reserve_price_cents": 500,
        **fields,
        "file": upload(data, name),
    }
    response = client.post("/api/datasets/", form, format="multipart")
    if response.status_code == 201:
        screened(response.json()["id"])  # as the worker does once the upload commits
    return response


def test_a_provider_uploads_and_everyone_sees_the_dictionary(provider_client, consumer_client):
    response = post_dataset(provider_client, table_csv(40))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["n_rows"] == 40 and body["task_type"] == "classification"
    assert body["columns"] == ["f1", "f2", "f3", "f4", "colour"]
    assert len(body["preview"]) == 5
    assert body["quality"]["duplicate_rows_within_file"] == 0
    seen = consumer_client.get(f"/api/datasets/{body['id']}/").json()
    assert seen["schema"]["label"] == "y"
    assert seen["quality"] is None, "quality reports are the provider's own"
    assert seen["entitled"] is False
    listed = consumer_client.get("/api/datasets/?search=shop").json()
    assert [d["id"] for d in listed["results"]] == [body["id"]]


def test_a_consumer_cannot_upload(consumer_client):
    response = post_dataset(consumer_client, table_csv(20))
    assert response.status_code == 403
    assert Dataset.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "fragment", "row", "column"),
    [
        (b"f1,y\n1,0\n2\n", "row 2 (line 3) has 1 fields", 2, None),
        (b"f1,z\n1,0\n2,1\n", "label column 'y' not found", None, "y"),
        (b"f1,y\n1,0\n2,0\n", "only one class", None, "y"),
        (b"f1,y\n1,0\nnan,1\n", "missing value in row 2", 2, "f1"),
        (b"", "is empty", None, None),
    ],
)
def test_bad_files_get_a_400_naming_the_fault_and_leave_nothing(
    provider_client, settings, data, fragment, row, column
):
    response = post_dataset(provider_client, data)
    assert response.status_code == 400
    body = response.json()
    assert fragment in body["detail"]
    assert body.get("row") == row and body.get("column") == column
    assert "file" in body["errors"]
    assert Dataset.objects.count() == 0 and RowHash.objects.count() == 0
    media = settings.MEDIA_ROOT
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_a_failed_save_removes_the_stored_files(provider_client, settings, monkeypatch):
    def broken_store(*args, **kwargs):
        raise RuntimeError("database went away")

    # The last write of the upload's transaction fails: nothing of it may stay.
    monkeypatch.setattr(rowhashes, "store", broken_store)
    with pytest.raises(RuntimeError):
        post_dataset(provider_client, table_csv(20))
    assert Dataset.objects.count() == 0
    assert not any(p.is_file() for p in settings.MEDIA_ROOT.rglob("*"))


def test_an_upload_repeating_another_providers_rows_is_held(provider_client):
    original = post_dataset(provider_client, table_csv(30, seed=1)).json()
    copier = make_user("copycat", "provider")
    response = post_dataset(client_for(copier), table_csv(30, seed=1), title="Mine, honestly")
    body = response.json()
    assert response.status_code == 201
    assert body["status"] == "held"
    assert "100% of its rows are also in another provider's dataset" in body["hold_reason"]
    assert f"#{original['id']}" not in body["hold_reason"]
    assert body["quality"]["overlap_with_other_providers"] == 1.0
    others = client_for(make_user("viewer", "consumer")).get("/api/datasets/").json()
    assert [d["id"] for d in others["results"]] == [original["id"]]


def test_duplicate_rows_within_a_file_are_counted(provider_client):
    data = table_csv(10)
    lines = data.decode().splitlines()
    doubled = "\n".join([*lines, lines[1], lines[2]]) + "\n"
    body = post_dataset(provider_client, doubled.encode()).json()
    assert body["quality"]["duplicate_rows_within_file"] == 2


def test_download_needs_ownership_or_an_entitlement(provider_client, consumer_client):
    dataset = post_dataset(provider_client, table_csv(20)).json()
    url = f"/api/datasets/{dataset['id']}/download/"
    assert consumer_client.get(url).status_code == 403
    own = provider_client.get(url)
    assert own.status_code == 200
    assert b"".join(own.streaming_content) == table_csv(20)


def test_browse_filters_and_orders(provider_client, consumer_client):
    post_dataset(provider_client, table_csv(20, seed=1), title="small", reserve_price_cents=100)
    post_dataset(provider_client, table_csv(50, seed=2), title="big", reserve_price_cents=900)

    def titles(q):
        return [d["title"] for d in consumer_client.get(f"/api/datasets/{q}").json()["results"]]

    assert titles("?min_rows=30") == ["big"]
    assert titles("?max_reserve_cents=500") == ["small"]
    assert titles("?ordering=n_rows") == ["small", "big"]


def test_row_hashes_are_matched_against_other_owners_datasets_in_a_fixed_number_of_queries(
    provider_client,
):
    first = post_dataset(provider_client, table_csv(40)).json()["id"]
    dataset = Dataset.objects.get(pk=first)
    held = RowHash.objects.filter(dataset=dataset).values_list("value", flat=True)
    stored = np.array(sorted(held), dtype=np.int64).view(np.uint64)
    assert stored.size == 40
    # Hashes at and above 2**63 are stored as signed integers and found again.
    extreme = np.array([2**64 - 1, 2**63, 2**63 - 1], dtype=np.uint64)
    rowhashes.store(dataset, extreme)
    other = make_user("other", "provider")
    absent = np.random.default_rng(0).integers(1, 2**62, 20_000, dtype=np.uint64)
    asked = np.unique(np.concatenate([stored[:10], extreme, absent]))
    queries = []
    for hashes, found in ((asked[:50], None), (asked, {first: 13})):
        with CaptureQueriesContext(connection) as seen:
            counts = rowhashes.overlaps(hashes, other)
        queries.append(len(seen))
        assert found is None or counts == found
    assert queries[0] == queries[1], "the statements do not grow with the upload"
    assert rowhashes.overlaps(asked, dataset.owner) == {}
    assert rowhashes.overlaps(np.array([], dtype=np.uint64), other) == {}


def test_deleting_a_dataset_deletes_its_row_hashes(provider_client):
    kept = post_dataset(provider_client, table_csv(30, seed=1), title="kept").json()["id"]
    gone = post_dataset(provider_client, table_csv(40, seed=2), title="gone").json()["id"]
    assert RowHash.objects.filter(dataset_id=gone).count() == 40
    Dataset.objects.get(pk=gone).delete()  # the ORM cascades: the table has no FK constraint
    assert not RowHash.objects.filter(dataset_id=gone).exists()
    assert RowHash.objects.filter(dataset_id=kept).count() == 30
