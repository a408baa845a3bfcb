"""Hostile input answers a clear 400 naming what is wrong, never a 500, and stores nothing:
NUL in a Parquet file, amounts beyond what any field may carry, JSON nested to crash the
parser (issue 14's "500s on bad input", on the database CI runs)."""

import io

import pandas as pd
import pytest

from marketplace.models import Dataset, JournalEntry, Task
from pricing.money import MAX_AMOUNT_CENTS
from tests.support.builders import table_csv, upload

pytestmark = pytest.mark.django_db


def parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


def post_dataset(client, data: bytes, name: str, **fields):
    form = {
        "title": "Visits",
        "license": "CC-BY-4.0",
        "label_column": "y",
        **fields,
        "file": upload(data, name),
    }
    return client.post("/api/datasets/", form, format="multipart")


@pytest.mark.parametrize(
    ("frame", "fragment"),
    [
        (pd.DataFrame({"f\x00": [1.0, 2.0, 3.0], "y": [0, 1, 0]}), "column 1 holds a control"),
        (
            pd.DataFrame({"f": [1.0, 2.0, 3.0], "c": ["a", "b\x00", "a"], "y": [0, 1, 0]}),
            "'c' has a control character (U+0000) in row 2",
        ),
        (pd.DataFrame({"f": [1.0, 2.0, 3.0], "y": ["n", "y\x00", "n"]}), "label 'y' has a"),
    ],
)
def test_nul_in_a_parquet_upload_is_a_400_naming_where(provider_client, frame, fragment):
    response = post_dataset(provider_client, parquet(frame), "nul.parquet")
    assert response.status_code == 400, response.content
    assert fragment in response.json()["detail"]
    assert Dataset.objects.count() == 0


@pytest.mark.parametrize("reserve", [MAX_AMOUNT_CENTS + 1, 2**63 - 1, 10**20, -1])
def test_a_reserve_beyond_any_amount_is_a_400_on_the_field(provider_client, reserve):
    response = post_dataset(provider_client, table_csv(20), "data.csv", reserve_price_cents=reserve)
    assert response.status_code == 400, response.content
    assert "reserve_price_cents" in response.json()["errors"]
    assert Dataset.objects.count() == 0


def test_the_largest_reserve_is_accepted(provider_client):
    response = post_dataset(
        provider_client, table_csv(20), "data.csv", reserve_price_cents=MAX_AMOUNT_CENTS
    )
    assert response.status_code == 201, response.content


def test_the_services_refuse_amounts_the_forms_did_not_check(provider, consumer):
    from marketplace.services.datasets import dataset_create
    from marketplace.services.errors import ServiceError
    from marketplace.services.tasks import task_submit

    with pytest.raises(ServiceError) as caught:
        dataset_create(
            owner=provider,
            upload=upload(table_csv(20)),
            title="t",
            label_column="y",
            license="CC0",
            reserve_price_cents=10**20,
        )
    assert caught.value.field == "reserve_price_cents"
    with pytest.raises(ServiceError) as caught:
        task_submit(
            consumer=consumer,
            validation_file=upload(table_csv(20)),
            label_column="y",
            metric="accuracy",
            model="logistic_regression",
            budget_cents=1000,
            value_per_point_cents=MAX_AMOUNT_CENTS + 1,
        )
    assert caught.value.field == "value_per_point_cents"
    assert Dataset.objects.count() == 0 and Task.objects.count() == 0


@pytest.mark.parametrize("depth", [33, 50_000])
def test_json_nested_too_deep_is_a_400_before_it_is_parsed(consumer_client, depth):
    body = '{"amount_cents": ' + "[" * depth + "]" * depth + "}"
    response = consumer_client.post(
        "/api/wallet/deposit/", body.encode(), content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert "nested more than 32 levels" in response.json()["detail"]
    assert not JournalEntry.objects.filter(kind=JournalEntry.Kind.DEPOSIT).exists()


def test_brackets_inside_json_strings_do_not_count_as_nesting(consumer_client):
    body = '{"amount_cents": 100, "note": "' + "[{" * 100 + '\\"]"}'
    response = consumer_client.post(
        "/api/wallet/deposit/", body.encode(), content_type="application/json"
    )
    assert response.status_code == 201, response.content


def test_a_json_body_over_the_size_limit_is_a_413_in_the_error_shape(consumer_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"amount_cents": 100, "note": "' + "x" * 2000 + '"}'
    response = consumer_client.post(
        "/api/wallet/deposit/", body.encode(), content_type="application/json"
    )
    assert response.status_code == 413, response.content
    assert "larger than 1000 bytes" in response.json()["detail"]


FORMULA_CSV = b"".join(
    [b"f1,link,y\n"]
    + [
        f'{i},"{"=HYPERLINK(http://evil.example,x)" if i % 5 == 0 else "ok"}",{i % 2}\n'.encode()
        for i in range(20)
    ]
)


def test_formula_cells_are_flagged_to_buyers_and_downloadable_neutralised(
    provider_client, consumer_client
):
    response = post_dataset(provider_client, FORMULA_CSV, "links.csv")
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    Dataset.objects.filter(pk=pk).update(status=Dataset.Status.PUBLISHED)
    assert consumer_client.get(f"/api/datasets/{pk}/").json()["formula_cells"] == {"link": 4}
    original = provider_client.get(f"/api/datasets/{pk}/download/")
    assert b"".join(original.streaming_content) == FORMULA_CSV, "byte for byte by default"
    neutral = provider_client.get(f"/api/datasets/{pk}/download/", {"neutralise": "true"})
    body = b"".join(neutral.streaming_content).decode()
    assert body.count("'=HYPERLINK") == 4 and body.count("=HYPERLINK") == 4
    assert (
        provider_client.get(f"/api/datasets/{pk}/download/", {"neutralise": "x"}).status_code == 400
    )
