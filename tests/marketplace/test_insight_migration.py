"""Insight reports and row offers stored as version 1 (untyped dicts) migrate to the typed,
versioned documents the readers use, and back."""

import importlib

import pytest
from django.apps import apps

from marketplace.models import Task, TaskInsight
from pricing.row_offer import RowOffer
from tests.support.builders import make_user
from valuation.core.report import InsightReport, RowRef

migration = importlib.import_module("marketplace.migrations.0013_insights_as_versioned_documents")

REMOVAL = {
    "score_before": 0.64,
    "score_after": 0.69,
    "change": 0.05,
    "change_lower": 0.01,
    "change_upper": 0.09,
    "suggested": True,
}
# A report as version 1 wrote it: every section, one row of the consumer's own ("own").
VERSION_1 = {
    "metric": "accuracy",
    "suspect_share": 0.1,
    "looked_at": [2, 3],
    "prune": {
        "score": 0.64,
        "datasets": [{"dataset": 3, "title": "Triage", "rows": 80, **REMOVAL}],
        "rows": {
            **REMOVAL,
            "count": 3,
            "examined": 200,
            "training_rows": 240,
            "by_dataset": {"3": [4, 9], "own": [1]},
        },
    },
    "debug": {
        "n_valid": 200,
        "points": [
            {
                "valid_row": 0,
                "label": "yes",
                "predicted": "no",
                "drivers": [{"dataset": 3, "row": 9, "label": "no", "value": -0.12}],
            }
        ],
    },
    "sensitivity": {
        "model": "logistic",
        "n_rows": 160,
        "loss": {
            "name": "log loss",
            "original": 0.21,
            "threshold": 0.23,
            "k": 1,
            "share": 1 / 160,
            "refit": 0.24,
            "confirmed": True,
            "rows": [{"dataset": None, "row": 2}],
        },
        "coefficients": [
            {
                "name": "f1",
                "estimate": -0.02,
                "k": None,
                "share": None,
                "refit": None,
                "confirmed": None,
                "rows": [],
            }
        ],
    },
    "rows": {
        "k": 5,
        "by_dataset": [
            {"dataset": 3, "title": "Triage", "rows": 80, "positive_rows": 26, "value_sum": -0.1}
        ],
    },
}
OFFER_1 = {
    "budget_cents": 3_000,
    "rows": {"3": [17, 28]},
    "value": 0.06,
    "price_cents": 2_000,
    "settlement": None,
    "row_cents": {"3": 2_000},
    "key": "0123456789abcdef",
}


def insight_with(report: dict, offer: dict | None) -> TaskInsight:
    task = Task.objects.create(
        consumer=make_user("old-insights", "consumer"),
        label_column="y",
        metric="accuracy",
        model="logistic_regression",
        budget_cents=3_000,
        value_per_point_cents=1,
        validation_file="tasks/valid.csv",
        schema={},
    )
    return TaskInsight.objects.create(task=task, status="ready", report=report, row_offer=offer)


@pytest.mark.django_db
def test_stored_reports_and_row_offers_migrate_forward_and_back():
    insight = insight_with(VERSION_1, OFFER_1)
    with pytest.raises(ValueError, match="version None"):
        InsightReport.from_dict(insight.report)
    with pytest.raises(ValueError, match="version None"):
        RowOffer.from_dict(insight.row_offer)
    migration.forward(apps, None)
    insight.refresh_from_db()
    report = InsightReport.from_dict(insight.report)
    assert [s.source for s in report.prune.sources] == [3]
    assert report.prune.suspects.rows == (RowRef(3, 4), RowRef(3, 9), RowRef(None, 1))
    assert report.debug.points[0].drivers == (RowRef(3, 9, label="no", value=-0.12),)
    assert report.sensitivity.loss.rows == (RowRef(None, 2),)
    assert report.rows.by_source[0].value_sum == -0.1
    assert RowOffer.from_dict(insight.row_offer).rows == {"3": (17, 28)}
    # What the code writes reads back through the migration unchanged.
    there_and_back = migration.report_forward(migration.report_backward(report.to_dict()))
    assert InsightReport.from_dict(there_and_back) == report
    migration.forward(apps, None)  # a second run leaves version 2 alone
    migration.backward(apps, None)
    insight.refresh_from_db()
    assert insight.report == VERSION_1 and insight.row_offer == OFFER_1


@pytest.mark.django_db
def test_sections_that_failed_and_reports_before_the_sample_migrate_too():
    older = {
        **VERSION_1,
        "prune": {
            **VERSION_1["prune"],
            "rows": {
                key: value
                for key, value in VERSION_1["prune"]["rows"].items()
                if key not in ("examined", "training_rows")
            },
        },
        "debug": {"error": "explanations of mispredictions are for classification tasks"},
        "sensitivity": {"error": "a singular design"},
    }
    insight = insight_with(older, None)
    migration.forward(apps, None)
    insight.refresh_from_db()
    report = InsightReport.from_dict(insight.report)
    assert report.debug.error.startswith("explanations") and report.debug.points == ()
    assert report.sensitivity.error == "a singular design" and report.sensitivity.loss is None
    # Before the sample every row was examined: the page says "all training rows".
    assert report.prune.suspects.examined == report.prune.suspects.training_rows == 80
    assert insight.row_offer is None
    migration.backward(apps, None)
    insight.refresh_from_db()
    assert insight.report["debug"] == older["debug"]
    assert insight.report["sensitivity"] == older["sensitivity"]
