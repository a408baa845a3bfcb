"""Real responses against the schema: objects as they are, not as a generator guesses them."""

from __future__ import annotations

from tests.contract.openapi import load_schema, token_header
from tests.marketplace.conftest import make_user

schema = load_schema()


def test_a_user_without_an_email_reads_themself_as_documented(app):
    user = make_user("noemail", "consumer")
    assert user.email == ""
    response = schema["/api/me/"]["GET"].Case().call_and_validate(headers=token_header(user))
    assert response.status_code == 200
