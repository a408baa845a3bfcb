"""Rates and login lockout: repeated logins, sign-ups, uploads and deposits answer 429 with
Retry-After, on the API and the web alike, sharing one count; a lockout refuses even the
right password for that username and address, and no one else."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from marketplace.models import Dataset, JournalEntry
from tests.support.builders import PASSWORD, make_user, table_csv, upload


@pytest.fixture
def rates(settings):
    """Low rates for the scopes under test (the suite's settings make them unlimited)."""

    def set_rates(**scopes):
        settings.DATAFAIR_RATE_LIMITS = {**settings.DATAFAIR_RATE_LIMITS, **scopes}

    return set_rates


def token(client, username, password):
    return client.post("/api/auth/token/", {"username": username, "password": password})


def assert_refused(response, words):
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert words in response.json()["detail"]


# --- login lockout --------------------------------------------------------------------------


def test_wrong_passwords_lock_that_username_from_that_address(db):
    make_user("victim")
    client = APIClient()
    for _ in range(4):
        assert token(client, "victim", "wrong-guess").status_code == 400
    assert_refused(token(client, "victim", "wrong-guess"), "too many failed logins")  # the 5th
    # Locked before the password is even checked: the right one is refused too.
    assert_refused(token(client, "victim", PASSWORD), "too many failed logins")
    # Another address is not locked out: the attacker cannot lock the owner out.
    elsewhere = APIClient(REMOTE_ADDR="10.0.0.2")
    assert token(elsewhere, "victim", PASSWORD).status_code == 200
    # Nor is another username from the attacker's address.
    make_user("bystander")
    assert token(client, "bystander", PASSWORD).status_code == 200


def test_a_right_password_before_the_limit_starts_the_count_again(db):
    make_user("forgetful")
    client = APIClient()
    for _ in range(4):
        token(client, "forgetful", "typo")
    assert token(client, "forgetful", PASSWORD).status_code == 200
    for _ in range(4):
        token(client, "forgetful", "typo")
    assert token(client, "forgetful", PASSWORD).status_code == 200


@pytest.mark.parametrize("page", ["/accounts/login/", "/admin/login/"])
def test_the_web_and_admin_logins_lock_out_too(db, page):
    make_user("webby")
    browser = Client()
    for _ in range(4):
        wrong = browser.post(page, {"username": "webby", "password": "nope"})
        assert wrong.status_code in (200, 400)
    assert browser.post(page, {"username": "webby", "password": "nope"}).status_code == 429
    locked = browser.post(page, {"username": "webby", "password": PASSWORD})
    assert locked.status_code == 429 and int(locked["Retry-After"]) >= 60
    assert b"too many failed logins" in locked.content.lower()


# --- rates ----------------------------------------------------------------------------------


def test_token_requests_are_rate_limited_per_address(db, rates):
    rates(login="3/min")
    make_user("steady")
    client = APIClient()
    for _ in range(3):
        assert token(client, "steady", PASSWORD).status_code == 200
    assert_refused(token(client, "steady", PASSWORD), "too many requests")
    assert token(APIClient(REMOTE_ADDR="10.0.0.3"), "steady", PASSWORD).status_code == 200


def test_a_forwarded_address_sent_by_the_client_is_not_believed(db, rates):
    rates(login="1/min")
    make_user("spoofer")
    token(APIClient(), "spoofer", PASSWORD)
    forged = APIClient(HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert token(forged, "spoofer", PASSWORD).status_code == 429


def test_sign_ups_share_one_count_between_the_api_and_the_web(db, rates):
    rates(register="2/hour")
    api = APIClient()
    for name in ("first", "second"):
        body = {"username": name, "password": PASSWORD, "roles": ["consumer"]}
        assert api.post("/api/auth/register/", body, format="json").status_code == 201
    third = {"username": "third", "password": PASSWORD, "roles": ["consumer"]}
    assert_refused(api.post("/api/auth/register/", third, format="json"), "too many requests")
    page = Client().post("/accounts/signup/", {**third, "roles": "consumer"})
    assert page.status_code == 429 and b"Too many requests" in page.content
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="third").exists()


def test_a_refused_upload_stores_nothing(provider_client, rates, settings, tmp_path):
    rates(upload="1/hour")
    form = {"title": "t", "license": "CC-BY-4.0", "label_column": "y", "reserve_price_cents": 500}
    first = provider_client.post(
        "/api/datasets/", {**form, "file": upload(table_csv(40))}, format="multipart"
    )
    assert first.status_code == 201
    media_files = sorted(p.name for p in (tmp_path).rglob("*") if p.is_file())
    second = provider_client.post(
        "/api/datasets/", {**form, "file": upload(table_csv(40, seed=1))}, format="multipart"
    )
    assert_refused(second, "too many requests")
    assert Dataset.objects.count() == 1
    assert sorted(p.name for p in (tmp_path).rglob("*") if p.is_file()) == media_files


def test_deposits_are_rate_limited_per_user_on_the_api_and_the_web(consumer, rates):
    rates(deposit="2/hour")
    api = APIClient()
    api.force_authenticate(consumer)
    for _ in range(2):
        response = api.post("/api/wallet/deposit/", {"amount_cents": 100}, format="json")
        assert response.status_code == 201
    entries = JournalEntry.objects.count()
    refused = api.post("/api/wallet/deposit/", {"amount_cents": 100}, format="json")
    assert_refused(refused, "too many requests")
    browser = Client()
    browser.force_login(consumer)
    assert browser.post("/wallet/", {"amount": "1.00"}).status_code == 429
    assert browser.get("/wallet/").status_code == 200  # reading is never limited
    assert JournalEntry.objects.count() == entries
    # Another user has a count of its own.
    other = APIClient()
    other.force_authenticate(make_user("neighbour"))
    assert (
        other.post("/api/wallet/deposit/", {"amount_cents": 100}, format="json").status_code == 201
    )


def test_the_schema_documents_429_where_a_rate_applies(db):
    schema = APIClient().get("/api/schema/?format=json").json()
    paths = schema["paths"]
    for path in (
        "/api/auth/token/",
        "/api/auth/register/",
        "/api/datasets/",
        "/api/wallet/deposit/",
    ):
        assert "429" in paths[path]["post"]["responses"], path
    assert "429" not in paths["/api/datasets/"]["get"]["responses"]
