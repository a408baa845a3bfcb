"""Fixtures of the contract tests: media in a scratch folder, the market to talk about, and
the WSGI app that schemathesis calls."""

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from tests.contract.market import Market, build_market
from tests.contract.openapi import APP


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def market(db) -> Market:
    return build_market()


@pytest.fixture
def app(db):
    """The WSGI app inside the test's transaction: Django's handler closes "old" database
    connections at each request's start and end, which would abandon that transaction (its
    own test client unhooks the same handler)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield APP
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
