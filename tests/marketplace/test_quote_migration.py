"""Quotes stored as version 1 (the explanation a list of sentences) migrate to keyed lines
that the task page reads, and back."""

import importlib

import pytest
from django.apps import apps

from marketplace.models import Task
from marketplace.web.results import explain
from pricing.explanation import Line
from pricing.quote import QUOTE_VERSION, Quote
from tests.support.builders import make_user

migration = importlib.import_module("marketplace.migrations.0012_quote_explanation_lines")

# Sentences as version 1 wrote them, titles that look like headings included.
VERSION_1 = [
    "Not offered: Spare (#4). Without them your model scores higher on your validation data.",
    "Left out Left out (#3): its data lowers your metric (value -0.0642); it is not paid.",
    "Left out 5: no measurable contribution (value +0.0000); it is not paid.",
    "Bundle: Clinic: spring (#1), Lift (#2).",
    "Lift: 22.00 points over your baseline (95% interval 11.50 points to 31.00 points).",
    "Worth: you pay only for the lift you can be confident in: 5,750 cents (rounded down).",
    "Price: 5,750 cents, within your budget of 20,000 cents.",
    "Platform fee: 10% of 5,750 cents, rounded down: 575 cents.",
    "Provider pool: 5,750 − 575 = 5,175 cents, split by share to the cent.",
    "Clinic: spring (#1): share 27.27% (Shapley value +0.0600) → 1,411 cents.",
    "Lift (#2): share 72.73% (Shapley value +0.1600) → 3,764 cents.",
    "Withheld by the replication penalty: 10 cents, refunded to you; you pay 5,740 cents net.",
    "Check: 5,750 charged = 1,411 + 3,764 to providers + 575 fee + 0 reserve + 10 refund.",
    "An unforeseen remark.",
]


def test_every_version_1_sentence_gets_its_key_and_reads_back_the_same():
    lines = [migration.line_of(s) for s in VERSION_1]
    assert [(line["kind"], line["provider"]) for line in lines] == [
        ("not_offered", None),
        ("left_out", "3"),
        ("left_out", "5"),
        ("bundle", None),
        ("lift", None),
        ("worth", None),
        ("price", None),
        ("fee", None),
        ("pool", None),
        ("provider", "1"),
        ("provider", "2"),
        ("refund", None),
        ("check", None),
        ("note", None),
    ]
    assert [Line.from_dict(line).text for line in lines][9] == (
        "share 27.27% (Shapley value +0.0600) → 1,411 cents."
    )
    assert [migration.sentences_of(line) for line in lines] == VERSION_1
    explained = explain(lines)
    assert explained.provider["2"] == "Share 72.73% (Shapley value +0.1600) → $37.64."
    assert explained.left_out["3"].startswith("Its data lowers your metric")


@pytest.mark.django_db
def test_stored_quotes_migrate_forward_and_back():
    consumer = make_user("old-buyer", "consumer")
    offer = {
        "policy": "lift",
        "sale": False,
        "reason": "no provider's data improves your task",
        "bundle": [],
        "lift": None,
        "budget_cents": 100,
        "cents_per_point": 1,
        "fee_bps": 0,
        "value_cents": 0,
        "settlement": {"charge_cents": 0, "fee_bps": 0, "fee_cents": 0, "payouts": {}},
        "shares": {},
        "excluded": {"3": "harmful"},
        "basis": "row_shapley",
        "revaluations": 0,
        "explanation": [VERSION_1[1], "No sale: no provider's data improves your task."],
    }
    task = Task.objects.create(
        consumer=consumer,
        label_column="y",
        metric="accuracy",
        model="logistic_regression",
        budget_cents=100,
        value_per_point_cents=1,
        validation_file="tasks/valid.csv",
        schema={},
        quote={"offer": offer, "contributions": []},
    )
    with pytest.raises(ValueError, match="version 1 quote"):
        Quote.from_dict(task.quote["offer"])
    migration.forward(apps, None)
    task.refresh_from_db()
    assert task.quote["offer"]["version"] == QUOTE_VERSION
    assert [line["kind"] for line in task.quote["offer"]["explanation"]] == ["left_out", "no_sale"]
    migration.backward(apps, None)
    task.refresh_from_db()
    assert task.quote["offer"]["explanation"] == offer["explanation"]
