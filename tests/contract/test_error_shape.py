"""Errors a client can provoke without fuzzing: each is answered as JSON in the one shape."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.support.builders import PASSWORD, client_for, make_user

pytestmark = pytest.mark.django_db

OBJECT_ROUTES = [
    ("get", "/api/datasets/{}/"),
    ("get", "/api/datasets/{}/download/"),
    ("get", "/api/tasks/{}/"),
    ("post", "/api/tasks/{}/cancel/"),
    ("post", "/api/tasks/{}/purchase/"),
    ("get", "/api/orders/{}/"),
]


def assert_error_shape(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert set(body) <= {"detail", "errors", "row", "column"}
    return body


@pytest.fixture
def client():
    return client_for(make_user("erin", "provider", "consumer"))


@pytest.mark.parametrize(("method", "route"), OBJECT_ROUTES)
@pytest.mark.parametrize("bad_id", ["abc", "null,null", "-1", "1.5", "%20"])
def test_a_malformed_id_is_a_json_404(client, method, route, bad_id):
    assert_error_shape(getattr(client, method)(route.format(bad_id)), 404)


@pytest.mark.parametrize(("method", "route"), OBJECT_ROUTES)
def test_an_id_beyond_any_integer_column_is_a_json_404(client, method, route):
    assert_error_shape(getattr(client, method)(route.format("9" * 30)), 404)


def test_a_post_to_a_malformed_id_is_a_json_404_even_with_csrf_checks():
    strict = APIClient(enforce_csrf_checks=True)
    strict.cookies["sessionid"] = "not-a-session"
    assert_error_shape(strict.post("/api/tasks/abc/cancel/"), 404)


@pytest.mark.parametrize(
    "url", ["/api/tasks/1/unknown/", "/api/wallet/withdraw/", "/api/me/x/", "/api/orders/1/2/"]
)
def test_an_unknown_path_under_a_resource_is_a_json_404(client, url):
    assert_error_shape(client.get(url), 404)


@pytest.mark.parametrize("url", ["/api/datasets/", "/api/tasks/", "/api/orders/", "/api/payouts/"])
def test_a_search_with_a_nul_character_is_a_400(client, url):
    body = assert_error_shape(client.get(url, {"search": "a\x00b"}), 400)
    assert "Null characters" in body["detail"]


@pytest.mark.parametrize(
    "url", ["/api/auth/register/", "/api/auth/token/", "/api/wallet/deposit/", "/api/datasets/"]
)
def test_a_body_in_a_media_type_the_operation_does_not_read_is_a_415(client, url):
    body = assert_error_shape(client.post(url, "amount=1", content_type="text/plain"), 415)
    assert "text/plain" in body["detail"]


@pytest.mark.parametrize("url", ["/api/auth/register/", "/api/wallet/deposit/"])
def test_a_body_larger_than_django_reads_is_a_413(client, url, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    body = assert_error_shape(client.post(url, {"note": "x" * 200}, format="json"), 413)
    assert "larger than 100 bytes" in body["detail"]


def test_the_schema_and_docs_still_answer_beside_the_catch_all():
    assert APIClient().get("/api/schema/").status_code == 200
    assert APIClient().get("/api/docs/").status_code == 200


def test_a_stale_token_does_not_stand_in_the_way_of_logging_in_or_registering():
    make_user("erin", "consumer")
    stale = APIClient()
    stale.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    login = stale.post(
        "/api/auth/token/",
        {"username": "erin", "password": PASSWORD},
        format="json",
    )
    assert login.status_code == 200, login.json()
    register = stale.post(
        "/api/auth/register/",
        {"username": "fred", "password": "correct-horse-9", "roles": ["consumer"]},
        format="json",
    )
    assert register.status_code == 201, register.json()
    assert_error_shape(stale.get("/api/me/"), 401)
