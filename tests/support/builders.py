"""Users, files, uploads and tasks made the way the tests of several folders make them (in
this process, through the services or the API): plain functions, no fixtures."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from sklearn.datasets import make_classification

from marketplace.models import LedgerAccount, Posting, Task
from marketplace.services.accounts import user_register
from marketplace.services.datasets import read_upload
from marketplace.services.screening import dataset_screen
from marketplace.services.wallet import wallet_deposit
from tests.support.jobs import run_task

PASSWORD = "a-long-test-password-1"


def make_user(username: str, *roles: str):
    user = user_register(username=username, password=PASSWORD, roles=roles or ("consumer",))
    Token.objects.get_or_create(user=user)
    return user


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=user).key}")
    return client


POOL_BLOCK = 250


def table_csv(n_rows: int = 60, *, seed: int = 0, flip: float = 0.0) -> bytes:
    """Rows ``seed``-th block of one classification problem (so every table shares the same
    ground truth): four numeric features, a colour and label ``y``; ``flip`` of labels flipped."""
    assert n_rows <= POOL_BLOCK
    X, y = make_classification(
        n_samples=POOL_BLOCK * 12,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        class_sep=1.5,
        random_state=0,
    )
    rows = slice(seed * POOL_BLOCK, seed * POOL_BLOCK + n_rows)
    X, y = X[rows], y[rows]
    rng = np.random.default_rng(seed)
    flipped = rng.random(n_rows) < flip
    y = np.where(flipped, 1 - y, y)
    frame = pd.DataFrame(X, columns=["f1", "f2", "f3", "f4"])
    frame["colour"] = rng.choice(["red", "green"], size=n_rows)
    frame["y"] = y
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def upload(data: bytes, name: str = "data.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


def screened(dataset_id: int):
    """Screen an upload as the worker would and return the dataset (an upload is enqueued
    for screening on commit, and tests run inside a transaction that never commits)."""
    return dataset_screen(dataset_id)


def publish(client, data, title, reserve=0):
    """Upload through the API and screen it; returns the dataset's id."""
    form = {
        "title": title,
        "license": "CC-BY-4.0",
        "label_column": "y",
        "reserve_price_cents": reserve,
        "file": upload(data),
    }
    response = client.post("/api/datasets/", form, format="multipart")
    assert response.status_code == 201, response.json()
    return screened(response.json()["id"]).pk


def build_task_market():
    """Three providers: two honest, one with most labels flipped; one consumer with money.
    Returns ``(providers, dataset ids, consumer)`` (the ``market`` fixture of tests/conftest.py)."""
    providers = [make_user(f"p{i}", "provider") for i in range(3)]
    ids = [
        publish(client_for(providers[0]), table_csv(80, seed=1), "honest A", reserve=100),
        publish(client_for(providers[1]), table_csv(80, seed=2), "honest B"),
        publish(client_for(providers[2]), table_csv(80, seed=3, flip=0.8), "flipped"),
    ]
    consumer = make_user("buyer", "consumer")
    wallet_deposit(user=consumer, amount_cents=50_000)
    return providers, ids, consumer


def submit(consumer, **overrides):
    """Start a task through the API (on the whole market unless ``candidates`` says)."""
    form = {
        "validation_file": upload(table_csv(200, seed=9), "valid.csv"),
        "label_column": "y",
        "metric": "accuracy",
        "model": "logistic_regression",
        "budget_cents": 20_000,
        "value_per_point_cents": 500,
        **overrides,
    }
    return client_for(consumer).post("/api/tasks/", form, format="multipart")


def quoted_task(consumer, **overrides) -> Task:
    """A task submitted through the API and valued in this process, checked quoted."""
    response = submit(consumer, **overrides)
    assert response.status_code == 201, response.json()
    task = Task.objects.get(pk=response.json()["id"])
    run_task(task)
    task.refresh_from_db()
    assert task.status == Task.Status.QUOTED, task.error
    return task


def assert_ledger_balanced():
    assert Posting.objects.aggregate(total=Sum("amount_cents"))["total"] == 0
    for account in LedgerAccount.objects.all():
        posted = account.postings.aggregate(total=Sum("amount_cents"))["total"] or 0
        assert posted == account.balance_cents, account.key


POOL_ROWS = 60


def make_task(consumer, *, baseline: bool = True) -> Task:
    """A consumer's task as task_submit stores it, without the market around it: pools only
    read its schema, validation rows and baseline."""
    validation = table_csv(200, seed=9)
    _, schema, _ = read_upload(upload(validation), field="validation_file", label="y")
    task = Task(
        consumer=consumer,
        title="No-shows",
        label_column="y",
        metric="accuracy",
        model="logistic_regression",
        budget_cents=1000,
        value_per_point_cents=10,
        schema=schema.to_dict(),
    )
    task.validation_file.save("valid.csv", ContentFile(validation), save=False)
    if baseline:
        task.baseline_file.save("base.csv", ContentFile(table_csv(20, seed=10)), save=False)
    task.save()
    return task


def pool_table(**changes) -> tuple[bytes, pd.Series]:
    """The pool's rows (no label) and their true labels; ``changes`` edit the columns."""
    frame = pd.read_csv(io.BytesIO(table_csv(POOL_ROWS, seed=4)))
    truth = frame.pop("y")
    for name, value in changes.items():
        if value is None:
            frame = frame.drop(columns=name)
        else:
            frame[name] = value
    return frame.to_csv(index=False).encode(), truth
