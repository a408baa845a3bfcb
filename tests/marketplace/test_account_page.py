"""The account page: a user sees its API token's dates, makes a new one (shown once), and
revokes it; the API follows at once."""

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.support.builders import make_user

pytestmark = pytest.mark.django_db


def api_me(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/me/").status_code


def test_a_user_replaces_and_revokes_its_token_on_the_web(settings):
    settings.DATAFAIR_TOKEN_TTL_DAYS = 30
    user = make_user("tokenholder")
    old = Token.objects.get(user=user).key
    browser = Client()
    browser.force_login(user)
    page = browser.get("/accounts/").content.decode()
    assert "Expires" in page and f"…{old[-4:]}" in page and old not in page  # never the key

    shown = browser.post("/accounts/", {"action": "issue"}).content.decode()
    new = Token.objects.get(user=user).key
    assert new != old and new in shown and "only this once" in shown
    assert api_me(old) == 401 and api_me(new) == 200
    assert new not in browser.get("/accounts/").content.decode()

    revoked = browser.post("/accounts/", {"action": "revoke"}, follow=True).content.decode()
    assert "no longer works" in revoked and "You have no API token" in revoked
    assert not Token.objects.filter(user=user).exists() and api_me(new) == 401


def test_the_account_page_needs_a_login():
    response = Client().get("/accounts/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_signing_up_on_the_web_logs_the_new_user_in():
    form = {"username": "newcomer", "password": "a-long-test-password-1", "roles": ["provider"]}
    browser = Client()
    assert browser.post("/accounts/signup/", form).status_code == 302
    assert "Hello, newcomer" in browser.get("/").content.decode()


def test_a_client_reads_its_tokens_dates_but_never_the_key(settings):
    settings.DATAFAIR_TOKEN_TTL_DAYS = 30
    user = make_user("scripted")
    key = Token.objects.get(user=user).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    body = client.get("/api/auth/token/").json()
    assert body["ends_with"] == key[-4:] and key not in str(body)
    assert body["expires"] > body["created"]
    assert APIClient().get("/api/auth/token/").status_code == 401
