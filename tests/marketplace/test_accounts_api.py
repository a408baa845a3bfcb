"""Registering, logging in with a token, and the error shape of bad requests."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_register_then_token_then_me():
    client = APIClient()
    response = client.post(
        "/api/auth/register/",
        {
            "username": "ann",
            "password": "correct-horse-9",
            "email": "a@x.io",
            "roles": ["provider", "consumer"],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["roles"] == ["provider", "consumer"]
    token = client.post(
        "/api/auth/token/", {"username": "ann", "password": "correct-horse-9"}, format="json"
    ).json()["token"]
    assert token == response.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = client.get("/api/me/").json()
    assert me["username"] == "ann" and me["email"] == "a@x.io"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"username": "bo", "password": "correct-horse-9", "roles": ["consumer"]}, "username"),
        ({"username": "bob", "password": "123", "roles": ["consumer"]}, "password"),
        ({"username": "bob", "password": "correct-horse-9", "roles": ["admin"]}, "roles"),
        ({"username": "bob", "password": "correct-horse-9", "roles": []}, "roles"),
    ],
)
def test_bad_registrations_name_the_field(payload, field):
    response = APIClient().post("/api/auth/register/", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert field in body["errors"]
    assert body["detail"]


def test_a_taken_username_is_refused():
    payload = {"username": "dup", "password": "correct-horse-9", "roles": ["consumer"]}
    assert APIClient().post("/api/auth/register/", payload, format="json").status_code == 201
    response = APIClient().post(
        "/api/auth/register/", {**payload, "username": "DUP"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"username": ["this username is taken"]}


def test_anonymous_requests_are_refused_in_the_error_shape():
    response = APIClient().get("/api/me/")
    assert response.status_code == 401
    assert set(response.json()) == {"detail"}
