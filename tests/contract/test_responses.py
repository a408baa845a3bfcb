"""Real responses against the schema: objects as they are, not as a generator guesses them."""

from __future__ import annotations

import io

import pandas as pd

from marketplace.models import Task
from marketplace.services.pools import pool_create, pool_label
from tests.contract.openapi import load_schema, token_header
from tests.support.builders import client_for, make_user, submit, table_csv, upload

schema = load_schema()


def test_a_user_without_an_email_reads_themself_as_documented(db):
    user = make_user("noemail", "consumer")
    assert user.email == ""
    response = schema["/api/me/"]["GET"].Case().call_and_validate(headers=token_header(user))
    assert response.status_code == 200


def test_a_download_is_answered_with_its_documented_content_type(db):
    provider = make_user("paula", "provider")
    data = table_csv(20)
    form = {"title": "t", "license": "CC0", "label_column": "y", "file": upload(data, "shop.csv")}
    dataset = client_for(provider).post("/api/datasets/", form, format="multipart").json()
    case = schema["/api/datasets/{id}/download/"]["GET"].Case(path_parameters={"id": dataset["id"]})
    response = case.call_and_validate(headers=token_header(provider))
    assert response.status_code == 200
    assert response.content == data


def test_every_object_the_trader_can_read_conforms(db, market):
    """Generated ids rarely hit a real object: read each one the trader may see, through
    every GET operation of the schema."""
    rows = pd.read_csv(io.BytesIO(table_csv(30, seed=5))).drop(columns="y")
    pool = pool_create(
        task=market.trader_task,
        user=market.trader,
        upload=upload(rows.to_csv(index=False).encode(), "pool.csv"),
    )
    pool = pool_label(pool=pool, user=market.trader, labels={0: 1})
    ids = {
        "/api/datasets/{id}/": [
            market.trader_dataset["id"],
            market.published["id"],
            market.original["id"],
        ],
        "/api/datasets/{id}/download/": [market.trader_dataset["id"], market.published["id"]],
        "/api/tasks/{id}/": [market.trader_task.pk],
        "/api/tasks/{id}/insights/": [market.trader_task.pk],
        "/api/orders/{id}/": [market.trader_order.pk],
        "/api/pools/{id}/": [pool.pk],
        "/api/pools/{id}/export/": [pool.pk],
    }
    paths = [path for path, item in schema.raw_schema["paths"].items() if "get" in item]
    assert set(ids) <= set(paths)
    for path in paths:
        for pk in ids.get(path, [None]):
            case = schema[path]["GET"].Case(path_parameters={} if pk is None else {"id": pk})
            response = case.call_and_validate(headers=token_header(market.trader))
            assert response.status_code == 200, (path, pk, response.text[:300])


def test_a_refused_valuation_is_answered_with_a_documented_429(db, market, settings):
    settings.DATAFAIR_TASKS_PER_HOUR = Task.objects.filter(consumer=market.consumer).count()
    response = submit(
        market.consumer,
        validation_file=upload(table_csv(60, seed=8), "v.csv"),
        budget_cents=100,
        value_per_point_cents=1,
    )
    assert response.status_code == 429
    documented = schema.raw_schema["paths"]["/api/tasks/"]["post"]["responses"]
    assert "429" in documented
    error = schema.raw_schema["components"]["schemas"]["Error"]["properties"]
    assert set(response.json()) <= set(error)
    assert response["Retry-After"] == str(response.json()["retry_after"])
