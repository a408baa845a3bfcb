"""Users and API clients for the marketplace tests (the helpers: tests/support/builders.py)."""

import pytest

from tests.support.builders import client_for, make_user


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
