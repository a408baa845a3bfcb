"""Registering, logging in with a token, and the error shape of bad requests."""

import pytest
from rest_framework.test import APIClient

from tests.support.builders import PASSWORD

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


@pytest.mark.parametrize(
    "look_alike",
    [
        "m_c\u043ens1",  # a Cyrillic о
        "\uff4d_cons1",  # a fullwidth ｍ
        "M_CONS1",  # only the case differs
        "m_consl",  # l for 1
        "m_c\u03bfns1",  # a Greek ο
    ],
)
def test_a_username_that_looks_like_a_registered_one_is_refused(look_alike):
    from django.contrib.auth import get_user_model

    client = APIClient()

    def register(username: str):
        body = {"username": username, "password": "correct-horse-9", "roles": ["provider"]}
        return client.post("/api/auth/register/", body, format="json")

    assert register("m_cons1").status_code == 201
    response = register(look_alike)
    assert response.status_code == 400, response.json()
    assert "username" in response.json()["errors"]
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["m_cons1"]
    assert register("m_cons2").status_code == 201, "a name that only resembles is fine"


def test_fullwidth_letters_are_stored_as_their_ascii_form():
    body = {"username": "\uff41nn", "password": "correct-horse-9", "roles": ["consumer"]}
    response = APIClient().post("/api/auth/register/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["username"] == "ann"


def _registered(username: str = "tok") -> tuple[APIClient, str]:
    body = {"username": username, "password": "correct-horse-9", "roles": ["consumer"]}
    token = APIClient().post("/api/auth/register/", body, format="json").json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client, token


def test_a_revoked_token_is_refused_and_logging_in_issues_a_new_one():
    client, token = _registered()
    assert client.get("/api/me/").status_code == 200
    assert client.delete("/api/auth/token/").status_code == 204
    assert client.get("/api/me/").status_code == 401
    login = {"username": "tok", "password": "correct-horse-9"}
    fresh = APIClient().post("/api/auth/token/", login, format="json").json()["token"]
    assert fresh != token
    assert APIClient().delete("/api/auth/token/").status_code == 401, "revoking needs a token"


def test_a_password_change_revokes_the_accounts_tokens():
    from django.contrib.auth import get_user_model

    client, _ = _registered()
    user = get_user_model().objects.get(username="tok")
    user.email = "new@x.io"
    user.save()  # saving without a new password keeps the token
    assert client.get("/api/me/").status_code == 200
    user.set_password("another-horse-7")
    user.save()
    assert client.get("/api/me/").status_code == 401


def test_an_expired_token_is_refused_and_replaced_at_login(settings):
    from datetime import timedelta

    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    settings.DATAFAIR_TOKEN_TTL_DAYS = 30
    client, token = _registered()
    Token.objects.filter(key=token).update(created=timezone.now() - timedelta(days=31))
    response = client.get("/api/me/")
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    login = {"username": "tok", "password": "correct-horse-9"}
    fresh = APIClient().post("/api/auth/token/", login, format="json").json()["token"]
    assert fresh != token
    client.credentials(HTTP_AUTHORIZATION=f"Token {fresh}")
    assert client.get("/api/me/").status_code == 200


def test_an_account_made_outside_sign_up_has_a_profile_and_its_pages_open():
    from django.contrib.auth import get_user_model
    from django.test import Client

    admin = get_user_model().objects.create_superuser("root", "root@example.org", PASSWORD)
    assert admin.profile.roles == [] and admin.profile.name_skeleton
    browser = Client()
    browser.force_login(admin)
    assert browser.get("/").status_code == 200
    # Nor can anyone register a look-alike of it.
    body = {"username": "rооt", "password": PASSWORD, "roles": ["consumer"]}  # Cyrillic о
    response = APIClient().post("/api/auth/register/", body, format="json")
    assert response.status_code == 400 and "looks like" in response.json()["detail"]
