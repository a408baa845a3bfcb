"""Real responses against the schema: objects as they are, not as a generator guesses them."""

from __future__ import annotations

from tests.contract.openapi import load_schema, token_header
from tests.marketplace.conftest import client_for, make_user, table_csv, upload

schema = load_schema()


def test_a_user_without_an_email_reads_themself_as_documented(app):
    user = make_user("noemail", "consumer")
    assert user.email == ""
    response = schema["/api/me/"]["GET"].Case().call_and_validate(headers=token_header(user))
    assert response.status_code == 200


def test_a_download_is_answered_with_its_documented_content_type(app):
    provider = make_user("paula", "provider")
    data = table_csv(20)
    form = {"title": "t", "license": "CC0", "label_column": "y", "file": upload(data, "shop.csv")}
    dataset = client_for(provider).post("/api/datasets/", form, format="multipart").json()
    case = schema["/api/datasets/{id}/download/"]["GET"].Case(path_parameters={"id": dataset["id"]})
    response = case.call_and_validate(headers=token_header(provider))
    assert response.status_code == 200
    assert response.content == data
