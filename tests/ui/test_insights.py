"""The consumer's insights and row-level buying on the web: the presentation helpers on a
hand-made report (hidden rows, sentences, fragile coefficients first, a split that adds up),
then the pages with Django's test client on a quoted task whose insights were computed."""

from __future__ import annotations

import html
import re
from dataclasses import replace

import pytest

from marketplace.models import Dataset, Entitlement, Order, Task, TaskInsight
from marketplace.selectors.insights import ReadableInsight
from marketplace.services.purchases import task_purchase
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
from pricing.row_offer import RowOffer
from tests.support.builders import assert_ledger_balanced, quoted_task
from valuation.core.report import InsightReport

AMOUNT = re.compile(r"\$([\d,]+)\.(\d\d)")


def stored_report() -> dict:
    """A stored report (``TaskInsight.report``) as its consumer may read it: dataset 2
    bought, 3 not."""
    loss = {
        "name": "log loss",
        "original": 0.2104,
        "threshold": 0.2314,
        "k": 7,
        "share": 7 / 160,
        "refit": 0.2391,
        "confirmed": True,
        "rows": [{"player": 2, "row": 4}, {"player": 3, "row": None}],
    }
    coefficient = {"share": None, "refit": None, "confirmed": None, "rows": []}
    return {
        "version": InsightReport.VERSION,
        "metric": "accuracy",
        "suspect_share": 0.1,
        "looked_at": [2, 3],
        "prune": {
            "score": 0.64,
            "sources": [
                {
                    "source": 3,
                    "title": "Triage",
                    "rows": 80,
                    "score_before": 0.64,
                    "score_after": 0.69,
                    "change": 0.05,
                    "change_lower": 0.01,
                    "change_upper": 0.09,
                    "suggested": True,
                },
                {
                    "source": 2,
                    "title": "Clinic",
                    "rows": 80,
                    "score_before": 0.64,
                    "score_after": 0.65,
                    "change": 0.01,
                    "change_lower": -0.02,
                    "change_upper": 0.04,
                    "suggested": False,
                },
            ],
            "suspects": {
                "count": 24,
                "examined": 240,
                "training_rows": 240,
                "score_before": 0.64,
                "score_after": 0.67,
                "change": 0.03,
                "change_lower": 0.005,
                "change_upper": 0.055,
                "suggested": True,
                "rows": [{"player": 3, "row": None}] * 23 + [{"player": 2, "row": 6}],
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
                        {"player": 2, "row": 9, "label": 0, "value": -0.12},
                        {"player": 3, "row": None, "label": None, "value": -0.05},
                        {"player": None, "row": 3, "label": 0, "value": -0.01},
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
                    "rows": [{"player": 3, "row": None}],
                },
            ],
        },
        "rows": {
            "k": 5,
            "by_source": [
                {
                    "source": 2,
                    "title": "Clinic",
                    "rows": 80,
                    "positive_rows": 78,
                    "value_sum": 0.41,
                },
                {
                    "source": 3,
                    "title": "Triage",
                    "rows": 80,
                    "positive_rows": 26,
                    "value_sum": -0.14,
                },
            ],
        },
    }


def report(stored: dict | None = None) -> ReadableInsight:
    """An ``insight_for`` answer in the selector's shape, of ``stored`` (default the one above)."""
    report = InsightReport.from_dict(stored or stored_report())
    return ReadableInsight(status="ready", report=report, row_offer=None, error="")


def test_suggestions_carry_the_measured_change_and_hide_unbought_rows():
    shown = task_insights(report(), chart_prefix="t")
    drop, kept, rows = shown.suggestions
    assert drop.label == "Drop Triage" and drop.change == 0.05
    assert "0.6400 → 0.6900" in drop.why and "A confident gain" in drop.why
    assert kept.label == "Without Clinic" and "Within the noise" in kept.why
    assert [row.title for row in shown.datasets_to_drop] == ["Triage"]
    assert rows.label == "Drop the 24 suspect rows" and rows.dataset_id is None
    words = {item.title: item.words for item in rows.rows_of}
    assert words == {"Triage": "23 rows (shown after purchase)", "Clinic": "row 7"}
    assert "+5.00 pts" in shown.suggestions_chart and "+3.00 pts" in shown.suggestions_chart
    assert [row.title for row in shown.row_values] == ["Clinic", "Triage"]
    assert "78 of 80 rows help" in shown.row_values_chart
    stored = stored_report()
    stored["prune"]["suspects"].update(change=-0.02, change_lower=-0.05, suggested=False)
    rows = task_insights(report(stored), chart_prefix="t").suggestions[-1]
    assert "Dropping them would not help" in rows.why and rows.why.endswith("keep them.")


def test_a_driver_of_unbought_data_says_it_is_hidden():
    (point,) = wrong_predictions(report().report.debug, {2: "Clinic", 3: "Triage"})
    assert (point.valid_row, point.label, point.predicted) == (1, "1", "0")
    cells = [(d.title, d.row, d.label) for d in point.drivers]
    assert cells == [("Clinic", "10", "0"), ("Triage", HIDDEN, HIDDEN), ("Your own data", "4", "0")]


def test_the_loss_finding_reads_as_one_sentence_with_its_refit():
    loss = report().report.sensitivity.loss
    assert loss_sentence(loss, 160) == (
        "Dropping 7 of 160 training rows (4.4%) would raise the log loss from 0.21 past "
        "0.23 — confirmed by refitting (0.24)."
    )
    assert "not confirmed: refitting without them gives 0.22" in loss_sentence(
        replace(loss, refit=0.2201, confirmed=False), 160
    )
    # Numbers that would read alike get the decimals that tell them apart.
    assert "from 0.211 past 0.214" in loss_sentence(
        replace(loss, original=0.2111, threshold=0.2142), 160
    )
    assert loss_sentence(replace(loss, k=None), 160).startswith("No set of training rows")


def test_coefficients_list_the_most_fragile_first():
    items = report().report.sensitivity.coefficients
    rows = coefficients(items, 160, {3: "Triage"})
    assert [(c.name, c.verdict) for c in rows] == [("f1", "Confirmed"), ("f2", "Robust")]
    assert (rows[0].share_text, rows[1].share_text) == ("0.6%", "")
    assert "from −0.020; the refit gives +0.006" in rows[0].why
    assert f"1 of Triage ({HIDDEN})" in rows[0].why


def test_row_numbers_count_from_one_and_stop_after_a_dozen():
    assert row_list([4, 0, 9]) == "rows 1, 5, 10"
    assert row_list(range(20)).endswith("12 and 8 more")
    assert row_list([]) == ""


def test_a_row_offers_split_adds_up_to_the_cent():
    offer = {
        "version": RowOffer.VERSION,
        "budget_cents": 3_000,
        "rows": {"1": [17, 28], "2": [6]},
        "value": 0.06,
        "price_cents": 2_999,
        "key": "0123456789abcdef",
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
    shown = row_offer(RowOffer.from_dict(offer), {1: "Clinic", 2: "Triage"}, chart_id="split")
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
        RowOffer.from_dict(
            {**offer, "rows": {}, "price_cents": 0, "row_cents": {}, "settlement": None}
        ),
        {},
        chart_id="x",
    )
    assert not nothing.buyable and nothing.split == [] and nothing.split_chart is None


# --- the pages ------------------------------------------------------------------------------------


def text_of(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


@pytest.fixture
def ready(insight_state, market, media_root, client):
    """The market's quoted task with its insights ready, its consumer signed in."""
    task_pk, _ = insight_state.for_test(media_root)
    _, ids, consumer = market
    client.force_login(consumer)
    return Task.objects.get(pk=task_pk), ids, consumer


@pytest.mark.django_db
def test_the_section_shows_the_measured_numbers_and_hides_unbought_rows(ready, client):
    task, ids, consumer = ready
    detail = client.get(f"/tasks/{task.pk}/")
    assert 'data-insights="ready"' in detail.content.decode()
    assert f'href="/tasks/{task.pk}/rows/#row-offer"' in detail.content.decode()

    page = client.get(f"/tasks/{task.pk}/rows/")
    assert page.status_code == 200
    shown = page.context["insights"]
    report = InsightReport.from_dict(TaskInsight.objects.get(task=task).report)
    flipped = next(s for s in shown.suggestions if s.dataset_id == ids[2])
    measured = next(d for d in report.prune.sources if d.source == ids[2])
    text = text_of(page)
    assert f"{measured.score_before:.4f} → {measured.score_after:.4f}" in flipped.why
    assert flipped.why in text and f"{100 * measured.change:+.2f} pts" in text
    assert shown.sensitivity.sentence in text
    assert page.content.decode().count('role="img"') >= 2
    # Before a purchase every suspect and driver row is hidden, and says so.
    suspects = shown.suggestions[-1].rows_of
    assert suspects and all(not part.shown and part.hidden == part.count for part in suspects)
    assert f"{suspects[0].count} rows (shown after purchase)" in text
    assert all(d.row == "hidden until bought" for p in shown.wrong for d in p.drivers)

    task_purchase(task=task, user=consumer)
    after = client.get(f"/tasks/{task.pk}/rows/").context["insights"]
    bundle = {int(d) for d in task.quote["offer"]["bundle"]}
    for part in after.suggestions[-1].rows_of:
        assert (part.hidden == 0) if part.dataset_id in bundle else (part.hidden == part.count)
    drivers = [d for p in after.wrong for d in p.drivers]
    assert drivers and all(d.row.isdigit() for d in drivers if d.dataset_id in bundle)
    assert "Make an offer" not in client.get(f"/tasks/{task.pk}/rows/").content.decode()


@pytest.mark.django_db
def test_a_row_offer_refuses_bad_budgets_and_is_bought_once(ready, client):
    task, ids, consumer = ready
    url = f"/tasks/{task.pk}/rows/"
    for budget, words in (
        ("abc", "Enter a number"),
        ("0", "at least $0.01"),
        ("200.01", "This task's budget is $200.00"),
    ):
        refused = client.post(url, {"action": "offer", "budget": budget})
        assert refused.status_code == 400 and words in text_of(refused), budget
    assert TaskInsight.objects.get(task=task).row_offer is None

    made = client.post(url, {"action": "offer", "budget": "30.00"})
    assert made.status_code == 302 and made["Location"] == f"{url}#row-offer"
    page = client.get(url)
    offer = page.context["offer"]
    stored = TaskInsight.objects.get(task=task).row_offer
    assert offer.price_cents == stored["price_cents"] <= 3_000
    assert sum(row.cents for row in offer.split) == offer.price_cents
    assert offer.check in text_of(page)
    key = re.search(r'name="confirmation" value="([^"]+)"', page.content.decode())[1]
    form = {"action": "buy", "confirmation": key, "offer": offer.key}

    first, second = client.post(url, form), client.post(url, form)
    assert first.status_code == second.status_code == 302
    order = Order.objects.get()
    assert order.kind == Order.Kind.ROWS and order.price_cents == stored["price_cents"]
    assert_ledger_balanced()
    granted = {e.dataset_id: e.rows for e in Entitlement.objects.filter(order=order)}
    assert granted == {int(d): rows for d, rows in stored["rows"].items()}
    downloads = text_of(client.get("/downloads/"))
    for dataset, rows in granted.items():
        assert f"{len(rows)} of its 80 rows" in downloads
        assert Dataset.objects.get(pk=dataset).title in downloads
    task_page = text_of(client.get(f"/tasks/{order.task_id}/"))
    assert "You bought the most valuable rows instead of this bundle" in task_page
    assert "What you bought" not in task_page
    for rows in granted.values():
        assert f"{len(rows)} of its 80 rows" in task_page

    again = client.post(url, {**form, "confirmation": "another-key"})
    assert again.status_code == 409 and "already been purchased" in text_of(again)
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_a_stale_row_offer_is_not_bought(ready, client):
    task, _, _ = ready
    url = f"/tasks/{task.pk}/rows/"
    client.post(url, {"action": "offer", "budget": "30.00"})
    page = client.get(url).content.decode()
    key = re.search(r'name="confirmation" value="([^"]+)"', page)[1]
    seen = re.search(r'name="offer" value="([^"]+)"', page)[1]
    client.post(url, {"action": "offer", "budget": "60.00"})  # another tab, a new offer
    stale = client.post(url, {"action": "buy", "confirmation": key, "offer": seen})
    assert stale.status_code == 409 and "offer changed" in text_of(stale)
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_pending_and_failed_insights_say_so(market, client):
    _, ids, consumer = market
    task = quoted_task(consumer)
    client.force_login(consumer)
    insight = TaskInsight.objects.get(task=task)  # the quote scheduled it
    assert insight.status == TaskInsight.Status.PENDING
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    assert f'data-poll-url="/tasks/{task.pk}/insights/"' in page and "Being computed" in page
    assert "data-finished" not in client.get(f"/tasks/{task.pk}/insights/").content.decode()
    refused = client.post(f"/tasks/{task.pk}/rows/", {"action": "offer", "budget": "30"})
    assert refused.status_code == 409
    assert "The row values of this task are not ready yet" in text_of(refused)
    assert "once the row values above are ready" in text_of(refused)

    insight.status, insight.error = TaskInsight.Status.FAILED, "the validation file is gone"
    insight.save()
    assert "data-finished" in client.get(f"/tasks/{task.pk}/insights/").content.decode()
    assert "The validation file is gone" in text_of(client.get(f"/tasks/{task.pk}/"))
    insight.delete()
    assert "No insights were computed" in text_of(client.get(f"/tasks/{task.pk}/"))
