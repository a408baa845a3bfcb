"""The API's own OpenAPI schema, loaded by schemathesis from the in-process WSGI app."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from rest_framework.authtoken.models import Token
from schemathesis.config import SchemathesisConfig


class InTestApp:
    """Django's WSGI app, made safe to call inside a test's database transaction.

    The handler closes "old" database connections as each request starts and finishes; in a
    test that would close the connection holding the test's transaction (on PostgreSQL the
    next query then fails). Django's own test client unhooks that handler around each request,
    and so does this app; the body is read before it returns so the close happens unhooked too.
    """

    def __init__(self, app: WSGIHandler):
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            response = self.app(environ, start_response)
            try:
                return [b"".join(response)]
            finally:
                response.close()
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


APP = InTestApp(WSGIHandler())


def load_schema(config: SchemathesisConfig | None = None):
    return schemathesis.openapi.from_wsgi("/api/schema/", APP, config=config)


def token_header(user) -> dict[str, str]:
    """The user's API token header; a new token when a call (``DELETE /api/auth/token/``)
    revoked the last one."""
    return {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}"}
