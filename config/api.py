"""One error shape for the whole API: ``{"detail": "...", "errors": {field: [messages]}}``.

DRF's own errors (validation, authentication, throttling, 404) and the services' errors are
all answered in that shape, and the schema documents it: :class:`ApiSchema` adds to every
operation the errors DRF can answer for it (400, 401, 403, 404, 415, 429), each with the one
shape.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler

from config.throttling import rate_detail
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
    retry_after = serializers.IntegerField(
        required=False, help_text="With 429: seconds until the request may be tried again."
    )


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
        headers = {"Retry-After": str(body["retry_after"])} if "retry_after" in body else None
        return Response(body, status=exc.status_code, headers=headers)
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        detail = f"the request body is larger than {limit} bytes; send files as multipart uploads"
        return Response({"detail": detail}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
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
    elif isinstance(exc, Throttled):  # DRF has set Retry-After
        response.data = {"detail": rate_detail(exc.wait or 1)}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"])}
    return response


@extend_schema_field(OpenApiTypes.BINARY)
class UploadField(serializers.FileField):
    """A file sent in a multipart request, documented as binary content (drf-spectacular would
    otherwise document the URL a stored file renders as, and clients would send a string)."""


@csrf_exempt  # it changes nothing; a POST to a wrong path must get the 404, not a CSRF page
def api_not_found(request, *args, **kwargs) -> JsonResponse:
    """The API's 404 for a path no route matches (a malformed id, an unknown sub-resource):
    Django's own 404 page is HTML, which an API client cannot read."""
    return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)


ERROR_DESCRIPTIONS = {
    400: "The request is invalid; `errors` names the fields at fault.",
    401: "No valid credentials: send `Authorization: Token <token>`.",
    403: "Authenticated, but this account may not do this (role, entitlement or CSRF).",
    404: "No such object among those visible to you, or no such page of results.",
    413: "The request body is larger than the server reads (files go as multipart uploads).",
    415: "The body's Content-Type is not one this operation reads (see its request body).",
    429: "Too many requests of this kind; `detail` says when to retry.",
}


class ApiSchema(AutoSchema):
    """drf-spectacular's schema, plus the errors each operation can answer.

    Which errors apply is read off the view, as DRF will run it: input that can be refused
    (a request body, filter or search parameters, extra header or query parameters) may give 400;
    anything but ``AllowAny`` may give 401; a role check, or an unsafe method (session
    clients need CSRF), may give 403; a path parameter or a page number may give 404; a body
    larger than Django reads gives 413, and one in a media type the operation does not read
    415; throttling may give 429. Errors an
    operation declares itself are kept as declared.
    """

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:  # the operation is excluded from the schema
            return None
        error = {
            "application/json": {"schema": self.resolve_serializer(ErrorSerializer, "response").ref}
        }
        responses = operation["responses"]
        for code in self.error_codes():
            responses.setdefault(
                str(code), {"description": ERROR_DESCRIPTIONS[code], "content": error}
            )
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def error_codes(self) -> set[int]:
        """The error statuses DRF can answer for this operation."""
        view, method = self.view, self.method
        checks = view.get_permissions()
        open_to_all = not checks or any(isinstance(p, permissions.AllowAny) for p in checks)
        role_checks = [
            p
            for p in checks
            if not isinstance(p, (permissions.AllowAny, permissions.IsAuthenticated))
        ]
        listing = method == "GET" and self._is_list_view() and self._get_paginator() is not None
        takes_body = (
            method not in permissions.SAFE_METHODS and self.get_request_serializer() is not None
        )
        codes = {413, 415} if takes_body else set()
        if (
            takes_body
            # filter values are validated, and so is the search text (no NUL characters)
            or (listing and self.get_filter_backends())
            or self.get_override_parameters()
        ):
            codes.add(400)
        if not open_to_all:
            codes.add(401)
            if role_checks or method not in permissions.SAFE_METHODS:
                codes.add(403)
        if "{" in self.path or listing:
            codes.add(404)
        if method == "POST" and getattr(view, "throttle_scope", None):  # config/throttling.py
            codes.add(429)
        return codes


def api_schema(**kwargs) -> Callable[[Callable], Callable]:
    """``extend_schema`` for one view method, built on :class:`ApiSchema`.

    drf-spectacular builds a method's annotation on the project's default schema class; the
    method's ``kwargs["schema"]`` is where it looks for another base, so setting it keeps the
    errors that :class:`ApiSchema` adds.
    """

    def decorate(method):
        method.kwargs = {"schema": ApiSchema}
        return extend_schema(**kwargs)(method)

    return decorate
