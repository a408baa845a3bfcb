"""Users, files and API clients for the marketplace tests."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from sklearn.datasets import make_classification

from marketplace.services.accounts import user_register
from marketplace.services.screening import dataset_screen

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


@pytest.fixture
def provider(db):
    return make_user("paula", "provider")


@pytest.fixture
def consumer(db):
    return make_user("carl", "consumer")


@pytest.fixture
def provider_client(provider):
    return client_for(provider)


@pytest.fixture
def consumer_client(consumer):
    return client_for(consumer)


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
