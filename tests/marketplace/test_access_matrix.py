"""Who may do what: every role × every object × every verb the API offers, in one table.

The roles are an anonymous client, the provider (owns a published and a held dataset), the
consumer (owns a bought task, its order and an open task), another consumer who has bought
nothing, and another provider (whose dataset the consumer bought). Beyond status codes: lists
show a user only their own tasks, orders, payouts and wallet; no provider response holds a
consumer's private files or rows; no consumer response holds a provider's unbought rows
beyond the preview.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pytest
from django.contrib.auth.models import User
from django.db.models import Q
from rest_framework.test import APIClient

from marketplace.models import Dataset, Entitlement, Order, Payout, Posting, Task
from tests.support.builders import client_for, table_csv, upload
from tests.support.contract_market import Market

ROLES = ("anonymous", "other_consumer", "other_provider", "provider", "consumer")


@pytest.fixture
def market(contract_market) -> Market:
    """The contract tests' market (tests/support/contract_market.py), once per module."""
    return contract_market


def everyone(status: int, **overrides: int) -> dict[str, int]:
    """Anonymous clients get 401; each signed-in role ``status`` unless overridden."""
    return {"anonymous": 401, **{role: status for role in ROLES[1:]}, **overrides}


def dataset_form() -> dict:
    return {
        "title": "fresh",
        "license": "CC0",
        "label_column": "y",
        "file": upload(table_csv(30, seed=7)),
    }


def task_form() -> dict:
    return {
        "validation_file": upload(table_csv(60, seed=8), "v.csv"),
        "label_column": "y",
        "metric": "accuracy",
        "model": "logistic_regression",
        "budget_cents": 1000,
        "value_per_point_cents": 10,
    }


@dataclass(frozen=True)
class Row:
    method: str
    url: str  # formatted with the market's object ids
    expect: dict[str, int]
    form: Callable[[], dict] | None = None  # a multipart body, built afresh for each call
    json: dict | None = None


def not_allowed(url: str) -> list[Row]:
    return [Row(method, url, everyone(405)) for method in ("PUT", "PATCH", "DELETE")]


# Mutating rows come after the reads of the same object, and within a row the owner acts last
# (ROLES order), so a refused attempt is seen to change nothing for the owner's own call.
TABLE = [
    Row("GET", "/api/me/", everyone(200)),
    Row("GET", "/api/datasets/", everyone(200)),
    Row("GET", "/api/datasets/{published}/", everyone(200)),
    Row("GET", "/api/datasets/{published}/download/", everyone(403, provider=200)),
    *not_allowed("/api/datasets/{published}/"),
    Row("GET", "/api/datasets/{held}/", everyone(404, provider=200)),
    Row("GET", "/api/datasets/{held}/download/", everyone(404, provider=200)),
    *not_allowed("/api/datasets/{held}/"),
    Row("GET", "/api/datasets/{bought}/", everyone(200)),
    Row("GET", "/api/datasets/{bought}/download/", everyone(403, other_provider=200, consumer=200)),
    Row("GET", "/api/tasks/", everyone(200)),
    Row("GET", "/api/tasks/{task}/", everyone(404, consumer=200)),
    *not_allowed("/api/tasks/{task}/"),
    Row("POST", "/api/tasks/{task}/purchase/", everyone(404, consumer=409)),
    Row("POST", "/api/tasks/{task}/cancel/", everyone(404, consumer=409)),
    Row("GET", "/api/tasks/{open_task}/", everyone(404, consumer=200)),
    Row("POST", "/api/tasks/{open_task}/purchase/", everyone(404, consumer=409)),
    Row("POST", "/api/tasks/{open_task}/cancel/", everyone(404, consumer=200)),
    Row("GET", "/api/orders/", everyone(200)),
    Row("GET", "/api/orders/{order}/", everyone(404, consumer=200)),
    *not_allowed("/api/orders/{order}/"),
    Row("GET", "/api/payouts/", everyone(403, provider=200, other_provider=200)),
    Row("GET", "/api/wallet/", everyone(200)),
    *not_allowed("/api/wallet/"),
    Row("POST", "/api/wallet/deposit/", everyone(201), json={"amount_cents": 100}),
    Row("POST", "/api/datasets/", everyone(403, provider=201, other_provider=201), dataset_form),
    Row("POST", "/api/tasks/", everyone(403, consumer=201, other_consumer=201), task_form),
]


def users(market: Market) -> dict[str, User | None]:
    return {
        "anonymous": None,
        "other_consumer": market.other_consumer,
        "other_provider": market.other_provider,
        "provider": market.provider,
        "consumer": market.consumer,
    }


def client(user: User | None) -> APIClient:
    return APIClient() if user is None else client_for(user)


def ids(market: Market) -> dict[str, int]:
    return {
        "published": market.published["id"],
        "held": market.held["id"],
        "bought": market.original["id"],
        "task": market.task.pk,
        "open_task": market.open_task.pk,
        "order": market.order.pk,
    }


def call(api: APIClient, row: Row, url: str):
    if row.form is not None:
        return api.post(url, row.form(), format="multipart")
    body = json.dumps(row.json) if row.json is not None else ""
    return api.generic(row.method, url, data=body, content_type="application/json")


def test_every_role_gets_the_expected_status_for_every_verb_on_every_object(db, market):
    assert set(ROLES) == set(users(market))
    wrong = []
    for row in TABLE:
        url = row.url.format(**ids(market))
        for role, user in users(market).items():
            response = call(client(user), row, url)
            if response.status_code != row.expect[role]:
                wrong.append((row.method, url, role, row.expect[role], response.status_code))
    assert wrong == []


def listed(api: APIClient, url: str) -> list[dict]:
    results, page = [], url
    while page:
        body = api.get(page).json()
        results += body["results"]
        page = body["next"]
    return results


def test_lists_show_a_user_only_what_is_theirs_or_public(db, market):
    people = [market.provider, market.other_provider, market.consumer, market.other_consumer]
    for user in [*people, market.trader]:
        api = client_for(user)
        datasets = {d["id"] for d in listed(api, "/api/datasets/")}
        visible = Dataset.objects.filter(Q(status="published") | Q(owner=user))
        assert datasets == set(visible.values_list("pk", flat=True)), user
        tasks = {t["id"] for t in listed(api, "/api/tasks/")}
        assert tasks == set(Task.objects.filter(consumer=user).values_list("pk", flat=True))
        orders = {o["id"] for o in listed(api, "/api/orders/")}
        assert orders == set(Order.objects.filter(consumer=user).values_list("pk", flat=True))
        if user.profile.is_provider:
            payouts = {p["id"] for p in listed(api, "/api/payouts/")}
            assert payouts == set(Payout.objects.filter(provider=user).values_list("pk", flat=True))
        wallet = api.get("/api/wallet/").json()
        own = Posting.objects.filter(account__owner=user)
        assert {line["entry"] for line in wallet["statement"]} == set(
            own.values_list("entry_id", flat=True)
        )
        assert wallet["balance_cents"] == sum(
            own.filter(account__kind="wallet").values_list("amount_cents", flat=True)
        )
    # The market is not trivial: the lists above could have shown someone else's objects.
    assert Task.objects.values("consumer").distinct().count() == 2
    assert Payout.objects.values("provider").distinct().count() == 3


def body_text(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def crawl(user: User) -> dict[str, str]:
    """Every GET response the API gives ``user``: lists, and each object's detail and download
    by id (whether or not it is theirs)."""
    api = client_for(user)
    urls = ["/api/me/", "/api/wallet/", "/api/payouts/"]
    for resource in ("datasets", "tasks", "orders"):
        urls.append(f"/api/{resource}/")
    urls += [f"/api/datasets/{pk}/" for pk in Dataset.objects.values_list("pk", flat=True)]
    urls += [f"/api/datasets/{pk}/download/" for pk in Dataset.objects.values_list("pk", flat=True)]
    urls += [f"/api/tasks/{pk}/" for pk in Task.objects.values_list("pk", flat=True)]
    urls += [f"/api/orders/{pk}/" for pk in Order.objects.values_list("pk", flat=True)]
    return {url: body_text(api.get(url)) for url in urls}


def token(value: float) -> str:
    """A number as it would appear in a response, cut to 12 significant characters so that a
    last-digit difference from re-parsing the file does not hide it."""
    return repr(float(value))[:13]


def test_no_provider_response_holds_a_consumers_private_files_or_rows(db, market):
    assert len(market.private) == 2
    for provider in (market.provider, market.other_provider, market.trader):
        bodies = crawl(provider)
        for owner, (names, values) in market.private.items():
            if owner == provider.username:
                continue
            # Stems: storage may add a suffix to a stored file's name.
            secrets = [name.rsplit(".", 1)[0] for name in names] + [token(v) for v in values]
            leaks = [(url, s) for url, text in bodies.items() for s in secrets if s in text]
            assert leaks == [], (provider.username, owner, leaks[:3])


def stored_rows(dataset: Dataset) -> list[str]:
    """The ``f1`` values of a dataset's rows, as the server stored them."""
    with dataset.columnar_file.open("rb") as stored:
        return [token(v) for v in pd.read_parquet(io.BytesIO(stored.read()))["f1"]]


def test_no_consumer_sees_unbought_rows_beyond_the_preview(db, market):
    shown_somewhere = False
    for consumer in (market.consumer, market.other_consumer):
        bodies = crawl(consumer)
        text = "\n".join(bodies.values())
        entitled = set(Entitlement.objects.filter(user=consumer).values_list("dataset", flat=True))
        # Rows the consumer bought may also sit in another provider's copy: those are theirs.
        bought = {t for pk in entitled for t in stored_rows(Dataset.objects.get(pk=pk))}
        for dataset in Dataset.objects.exclude(owner=consumer).exclude(pk__in=entitled):
            preview = {token(row["f1"]) for row in dataset.preview}
            hidden = [t for t in stored_rows(dataset) if t not in preview | bought]
            if not entitled:  # nothing bought: all but the preview rows are hidden
                assert len(hidden) >= dataset.n_rows - len(dataset.preview)
            leaks = [t for t in hidden if t in text]
            assert leaks == [], (consumer.username, dataset.title, leaks[:3])
            # The search can find rows: the preview it is allowed to see is there.
            if dataset.status == "published" and preview:
                assert all(t in bodies[f"/api/datasets/{dataset.pk}/"] for t in preview)
                shown_somewhere = True
    assert shown_somewhere
