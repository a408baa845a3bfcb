"""The API's own OpenAPI schema, loaded by schemathesis from the in-process WSGI app."""

from __future__ import annotations

import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from rest_framework.authtoken.models import Token
from schemathesis.config import SchemathesisConfig

APP = WSGIHandler()


def load_schema(config: SchemathesisConfig | None = None):
    return schemathesis.openapi.from_wsgi("/api/schema/", APP, config=config)


def token_header(user) -> dict[str, str]:
    return {"Authorization": f"Token {Token.objects.get(user=user).key}"}
