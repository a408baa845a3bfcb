"""One error shape for the whole API: ``{"detail": "...", "errors": {field: [messages]}}``.

DRF's own errors (validation, authentication, throttling, 404) and the services' errors are
all answered in that shape, and the schema documents it.
"""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler

from marketplace.services.errors import ServiceError


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in words a person can act on.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Messages per input field, when the problem is with specific fields.",
    )
    row = serializers.IntegerField(required=False, help_text="Data row at fault (from 1).")
    column = serializers.CharField(required=False, help_text="Column at fault.")


def _flatten(value) -> list[str]:
    if isinstance(value, list):
        return [item for sub in value for item in _flatten(sub)]
    if isinstance(value, dict):
        return [f"{k}: {m}" for k, v in value.items() for m in _flatten(v)]
    return [str(value)]


def api_exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        body = {"detail": exc.message}
        if exc.field:
            body["errors"] = {exc.field: [exc.message]}
        body.update({k: v for k, v in exc.details.items() if v is not None})
        return Response(body, status=exc.status_code)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError):
        data = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        errors = {field: _flatten(messages) for field, messages in data.items()}
        first_field, first = next(iter(errors.items()))
        prefix = "" if first_field == "non_field_errors" else f"{first_field}: "
        response.data = {"detail": f"{prefix}{first[0]}", "errors": errors}
        response.status_code = status.HTTP_400_BAD_REQUEST
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"])}
    return response
