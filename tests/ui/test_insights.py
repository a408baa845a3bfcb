"""The consumer's insights and row-level buying on the web: the presentation helpers on a
hand-made report (hidden rows, sentences, fragile coefficients first, a split that adds up),
then the pages with Django's test client on a quoted task whose insights were computed."""

from __future__ import annotations

import re

from marketplace.web.formatting import money
from marketplace.web.insights import (
    HIDDEN,
    coefficients,
    loss_sentence,
    row_list,
    row_offer,
    task_insights,
    wrong_predictions,
)

AMOUNT = re.compile(r"\$([\d,]+)\.(\d\d)")


def report() -> dict:
    """An ``insight_for`` answer in the service's shape: dataset 2 bought, 3 not."""
    loss = {
        "name": "log loss",
        "original": 0.2104,
        "threshold": 0.2314,
        "k": 7,
        "share": 7 / 160,
        "refit": 0.2391,
        "confirmed": True,
        "rows": [{"dataset": 2, "row": 4}, {"dataset": 3, "row": None}],
    }
    coefficient = {"share": None, "refit": None, "confirmed": None, "rows": []}
    return {
        "status": "ready",
        "error": "",
        "row_offer": None,
        "report": {
            "metric": "accuracy",
            "suspect_share": 0.1,
            "looked_at": [2, 3],
            "prune": {
                "score": 0.64,
                "datasets": [
                    {
                        "dataset": 3,
                        "title": "Triage",
                        "rows": 80,
                        "score_before": 0.64,
                        "score_after": 0.69,
                        "change": 0.05,
                    }
                ],
                "rows": {
                    "count": 24,
                    "score_before": 0.64,
                    "score_after": 0.67,
                    "change": 0.03,
                    "by_dataset": {
                        "3": {"count": 23, "rows": [], "hidden": 23},
                        "2": {"count": 1, "rows": [6], "hidden": 0},
                    },
                },
            },
            "debug": {
                "n_valid": 200,
                "points": [
                    {
                        "valid_row": 0,
                        "label": 1,
                        "predicted": 0,
                        "drivers": [
                            {"dataset": 2, "row": 9, "label": 0, "value": -0.12},
                            {"dataset": 3, "row": None, "label": None, "value": -0.05},
                            {"dataset": None, "row": 3, "label": 0, "value": -0.01},
                        ],
                    }
                ],
            },
            "sensitivity": {
                "model": "logistic",
                "n_rows": 160,
                "loss": loss,
                "coefficients": [
                    {**coefficient, "name": "f2", "estimate": 0.8, "k": None},
                    {
                        **coefficient,
                        "name": "f1",
                        "estimate": -0.02,
                        "k": 1,
                        "share": 1 / 160,
                        "refit": 0.006,
                        "confirmed": True,
                        "rows": [{"dataset": 3, "row": None}],
                    },
                ],
            },
            "rows": {
                "k": 5,
                "by_dataset": [
                    {
                        "dataset": 2,
                        "title": "Clinic",
                        "rows": 80,
                        "positive_rows": 78,
                        "value_sum": 0.41,
                    },
                    {
                        "dataset": 3,
                        "title": "Triage",
                        "rows": 80,
                        "positive_rows": 26,
                        "value_sum": -0.14,
                    },
                ],
            },
        },
    }


def test_suggestions_carry_the_measured_change_and_hide_unbought_rows():
    shown = task_insights(report(), chart_prefix="t")
    drop, rows = shown.suggestions
    assert drop.label == "Drop Triage" and drop.change == 0.05
    assert "0.6400 → 0.6900" in drop.why
    assert rows.label == "Drop the 24 suspect rows" and rows.dataset_id is None
    words = {item.title: item.words for item in rows.rows_of}
    assert words == {"Triage": "23 rows (shown after purchase)", "Clinic": "row 7"}
    assert "+5.00 pts" in shown.suggestions_chart and "+3.00 pts" in shown.suggestions_chart
    assert [row.title for row in shown.row_values] == ["Clinic", "Triage"]
    assert "78 of 80 rows help" in shown.row_values_chart


def test_a_driver_of_unbought_data_says_it_is_hidden():
    (point,) = wrong_predictions(report()["report"]["debug"], {2: "Clinic", 3: "Triage"})
    assert (point.valid_row, point.label, point.predicted) == (1, "1", "0")
    cells = [(d.title, d.row, d.label) for d in point.drivers]
    assert cells == [("Clinic", "10", "0"), ("Triage", HIDDEN, HIDDEN), ("Your own data", "4", "0")]


def test_the_loss_finding_reads_as_one_sentence_with_its_refit():
    loss = report()["report"]["sensitivity"]["loss"]
    assert loss_sentence(loss, 160) == (
        "Dropping 7 of 160 training rows (4.4%) would raise the log loss from 0.21 past "
        "0.23 — confirmed by refitting (0.24)."
    )
    assert "not confirmed: refitting without them gives 0.22" in loss_sentence(
        {**loss, "refit": 0.2201, "confirmed": False}, 160
    )
    # Numbers that would read alike get the decimals that tell them apart.
    assert "from 0.211 past 0.214" in loss_sentence(
        {**loss, "original": 0.2111, "threshold": 0.2142}, 160
    )
    assert loss_sentence({**loss, "k": None}, 160).startswith("No set of training rows")


def test_coefficients_list_the_most_fragile_first():
    items = report()["report"]["sensitivity"]["coefficients"]
    rows = coefficients(items, 160, {3: "Triage"})
    assert [(c.name, c.verdict) for c in rows] == [("f1", "Confirmed"), ("f2", "Robust")]
    assert "from −0.020; the refit gives +0.006" in rows[0].why
    assert f"1 of Triage ({HIDDEN})" in rows[0].why


def test_row_numbers_count_from_one_and_stop_after_a_dozen():
    assert row_list([4, 0, 9]) == "rows 1, 5, 10"
    assert row_list(range(20)).endswith("12 and 8 more")
    assert row_list([]) == ""


def test_a_row_offers_split_adds_up_to_the_cent():
    offer = {
        "budget_cents": 3_000,
        "rows": {"1": [17, 28], "2": [6]},
        "value": 0.06,
        "price_cents": 2_999,
        "row_cents": {"1": 1_959, "2": 1_040},
        "settlement": {
            "charge_cents": 2_999,
            "fee_bps": 1000,
            "fee_cents": 299,
            "payouts": {"1": 1_764, "2": 936},
            "withheld_cents": 0,
            "refund_cents": 0,
            "penalty_destination": "consumer",
        },
    }
    shown = row_offer(offer, {1: "Clinic", 2: "Triage"}, chart_id="split")
    assert shown.rows == 3 and [d.words for d in shown.datasets] == ["rows 18, 29", "row 7"]
    assert sum(row.cents for row in shown.split) == 2_999
    assert [row.label for row in shown.split] == ["Clinic", "Triage", "Platform fee"]
    assert (
        shown.check
        == "Check: $29.99 charged = $17.64 + $9.36 to providers + $2.99 fee + $0.00 reserve "
        "+ $0.00 refund."
    )
    charged, *parts = (
        int(a.replace(",", "")) * 100 + int(b) for a, b in AMOUNT.findall(shown.check)
    )
    assert charged == sum(parts)
    assert money(2_999) in shown.split_chart
    nothing = row_offer(
        {**offer, "rows": {}, "price_cents": 0, "row_cents": {}, "settlement": None},
        {},
        chart_id="x",
    )
    assert not nothing.buyable and nothing.split == [] and nothing.split_chart is None
