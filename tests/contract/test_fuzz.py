"""Schemathesis over the whole OpenAPI schema, in-process against the Django WSGI app.

The client is a user who is provider and consumer at once and has data on both sides (a
published dataset, a bought task with its order, payouts from another consumer's purchase),
so generated requests meet real objects as well as missing ones. Every response must be no
5xx, have a documented status code and content type, and a body that matches the schema.

Two checks are tuned to what the API promises rather than loosened: uploads and registrations
are judged on content the schema cannot describe (a file's rows, a password's strength, a
balance), so a schema-valid request there may get 400 (or 402 for a task the wallet cannot
cover); list endpoints refuse filter and search text holding NUL characters (400), and read
an empty or unreadable optional query value (``page=``, ``mine=maybe``) as absent, as DRF and
django-filter do, instead of refusing it.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES

from tests.contract.openapi import load_schema, token_header

LISTS = ["GET /api/datasets/", "GET /api/tasks/", "GET /api/orders/", "GET /api/payouts/"]
CONTENT_CHECKED = ["POST /api/auth/register/", "POST /api/auth/token/", "POST /api/datasets/"]


def accepting(*statuses: str) -> dict:
    return {
        "positive_data_acceptance": {
            "expected-statuses": [*POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES, *statuses]
        }
    }


CONFIG = SchemathesisConfig.from_dict(
    {
        "operations": [
            {"include-name": CONTENT_CHECKED, "checks": accepting("400")},
            {"include-name": "POST /api/tasks/", "checks": accepting("400", "402")},
            {
                "include-name": LISTS,
                "checks": {**accepting("400"), "negative_data_rejection": {"enabled": False}},
            },
        ]
    }
)
schema = load_schema(CONFIG)


# Derandomized so the suite is the same on every run; to explore, raise max_examples and drop
# derandomize (rounds of 150 random examples per operation passed when this was written).
@schema.parametrize()
@settings(
    max_examples=15,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms_to_the_schema(case, db, market):
    case.call_and_validate(headers=token_header(market.trader))
