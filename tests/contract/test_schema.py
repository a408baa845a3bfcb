"""The OpenAPI schema: generated without warnings, valid OpenAPI 3, every endpoint the issue
promises, and every error documented in the one error shape."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

# The endpoints issue #6 names, with their methods.
PROMISED = [
    ("POST", "/api/auth/register/"),
    ("POST", "/api/auth/token/"),
    ("GET", "/api/me/"),
    ("GET", "/api/datasets/"),
    ("POST", "/api/datasets/"),
    ("GET", "/api/datasets/{id}/"),
    ("GET", "/api/datasets/{id}/download/"),
    ("GET", "/api/tasks/"),
    ("POST", "/api/tasks/"),
    ("GET", "/api/tasks/{id}/"),
    ("POST", "/api/tasks/{id}/cancel/"),
    ("POST", "/api/tasks/{id}/purchase/"),
    ("GET", "/api/orders/"),
    ("GET", "/api/orders/{id}/"),
    ("GET", "/api/wallet/"),
    ("POST", "/api/wallet/deposit/"),
    ("GET", "/api/payouts/"),
]
ERROR_REF = "#/components/schemas/Error"


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_the_schema_generates_without_warnings_and_validates(tmp_path):
    GENERATOR_STATS.reset()  # warnings of earlier generations in this process are not ours
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert not GENERATOR_STATS
    assert out.read_text().startswith("openapi: 3.")


def test_the_schema_is_valid_openapi(schema):
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")


def test_every_promised_endpoint_is_in_the_schema(schema):
    documented = {(method, path) for method, path, _ in operations(schema)}
    missing = [endpoint for endpoint in PROMISED if endpoint not in documented]
    assert missing == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "content_type"),
    [("/api/schema/", "application/vnd.oai.openapi"), ("/api/docs/", "text/html")],
)
def test_the_schema_and_its_docs_are_served(url, content_type):
    response = APIClient().get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)


def test_the_error_shape_has_a_required_detail(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["detail"]
    assert error["properties"]["detail"]["type"] == "string"
    assert error["properties"]["errors"]["additionalProperties"]["items"]["type"] == "string"


def test_every_documented_error_uses_the_one_shape(schema):
    wrong = [
        (method, path, code, response.get("content"))
        for method, path, operation in operations(schema)
        for code, response in operation["responses"].items()
        if int(code) >= 400
        and response.get("content") != {"application/json": {"schema": {"$ref": ERROR_REF}}}
    ]
    assert wrong == []


def test_every_operation_documents_the_errors_drf_can_answer(schema):
    """Read the obligations off the schema itself: a secured operation can answer 401, one with
    a path parameter 404, one with a request body 400, 413 (too large) and 415 (a body in
    another media type),
    a paginated list 404 (a page past the end), a searchable list 400 (the search text is
    validated)."""
    missing = []
    for method, path, operation in operations(schema):
        codes = set(operation["responses"])
        secured = {} not in operation.get("security", [{}])
        expected = {"401"} if secured else set()
        if "{" in path:
            expected.add("404")
        if "requestBody" in operation:
            expected |= {"400", "413", "415"}
        parameters = {p["name"] for p in operation.get("parameters", [])}
        if "page" in parameters:
            expected.add("404")
        if "search" in parameters:
            expected.add("400")
        missing += [(method, path, code) for code in sorted(expected - codes)]
    assert missing == []


def test_the_api_docs_load_only_our_own_static_files(client):
    import re

    page = client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    ours = ("/static/", "/api/docs/?script=")  # the split view's start-up script
    assert assets and all(a.startswith(ours) for a in assets), assets
    assert "//" not in "".join(assets), "no third-party origin"


def test_uploads_are_documented_as_binary_files(schema):
    components = schema["components"]["schemas"]
    files = [
        ("DatasetUploadIn", "file"),
        ("TaskIn", "validation_file"),
        ("TaskIn", "baseline_file"),
    ]
    assert [components[c]["properties"][f]["format"] for c, f in files] == ["binary"] * 3
    request_bodies = [
        body["schema"]["$ref"].rsplit("/", 1)[1]
        for _, _, operation in operations(schema)
        for body in operation.get("requestBody", {}).get("content", {}).values()
    ]
    uris = [
        (name, field)
        for name in request_bodies
        for field, spec in components[name]["properties"].items()
        if spec.get("format") == "uri"
    ]
    assert uris == [], "a file field documented as a URL would be sent as text"


def test_every_page_forbids_inline_and_third_party_scripts(client):
    for path in ("/", "/accounts/login/", "/api/docs/", "/api/schema/", "/healthz"):
        policy = dict(
            d.strip().split(" ", 1) for d in client.get(path)["Content-Security-Policy"].split(";")
        )
        assert policy["script-src"] == "'self'" and policy["default-src"] == "'self'", path
        # Swagger UI sets inline styles as it draws; every other page has none.
        assert policy["style-src"] == ("'self' 'unsafe-inline'" if "docs" in path else "'self'")
    page = client.get("/api/docs/").content.decode()
    assert "<script>" not in page and "<script src=" in page  # Swagger UI starts from a file
