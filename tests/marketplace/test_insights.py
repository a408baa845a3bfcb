"""A quoted task's insights: prune suggestions with measured lifts, explanations of wrong
predictions, sensitivity, row-level offers and purchases, and the providers' across-task
quality signals — with rows of unbought data hidden and the money conserved to the cent."""

import io
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import pytest

from marketplace.models import Dataset, Entitlement, Order, QualitySignal, Task, TaskInsight
from marketplace.selectors.insights import dataset_quality_from_tasks, insight_for, report_readable
from marketplace.services.datasets import rows_of_file
from marketplace.services.errors import Conflict, InsufficientFunds, ServiceError
from marketplace.services.insights import insight_run, task_row_offer
from marketplace.services.purchases import task_purchase
from marketplace.services.wallet import wallet_deposit
from tests.support.builders import assert_ledger_balanced, client_for, make_user, quoted_task
from valuation.core.report import InsightReport, Record, RowRef

pytestmark = pytest.mark.django_db


@pytest.fixture
def insight(insight_state, market, media_root):
    task_pk, done_pk = insight_state.for_test(media_root)
    _, ids, consumer = market
    return Task.objects.get(pk=task_pk), ids, consumer, TaskInsight.objects.get(pk=done_pk)


def test_prune_suggestions_name_the_harmful_dataset_with_a_measured_lift(insight):
    task, ids, _, done = insight
    prune = InsightReport.from_dict(done.report).prune
    flipped = ids[2]
    measured = {item.source: item for item in prune.sources}
    assert set(measured) == set(ids), "every candidate's removal is measured"
    assert {item.title for item in prune.sources} == set(
        Dataset.objects.filter(pk__in=ids).values_list("title", flat=True)
    )
    # Dropping the flipped dataset helps most; it is suggested only if the gain is confident.
    assert prune.sources[0].source == flipped
    assert measured[flipped].score_after > measured[flipped].score_before
    for item in prune.sources:
        assert item.change_lower <= item.change <= item.change_upper
        assert item.suggested == (item.change_lower > 0)
    rows = prune.suspects
    assert rows.count == round(0.1 * 240)
    by_dataset = rows.by_player()
    assert set(by_dataset) <= set(ids) and sum(map(len, by_dataset.values())) == rows.count
    # Most suspects come from the dataset whose labels were flipped.
    assert len(by_dataset[flipped]) > rows.count / 2


def test_wrong_predictions_are_explained_by_rows_of_the_looked_at_data(insight):
    task, ids, _, done = insight
    report = InsightReport.from_dict(done.report)
    debug = report.debug
    assert debug.points, "a 200-row validation set has some wrong predictions"
    looked_at = set(report.looked_at)
    assert looked_at == {int(d) for d in task.quote["offer"]["bundle"]}
    for point in debug.points:
        assert point.label != point.predicted
        for driver in point.drivers:
            assert driver.player in looked_at
            assert driver.value < 0
            assert 0 <= driver.row < 80
    sensitivity = report.sensitivity
    assert sensitivity.model == "logistic"
    names = {c.name for c in sensitivity.coefficients}
    assert names and names <= {"f1", "f2", "f3", "f4", "colour=green", "colour=red"}, names
    assert sensitivity.loss.threshold > sensitivity.loss.original


def test_before_a_purchase_the_consumer_sees_counts_not_rows(insight):
    task, ids, consumer, _ = insight
    seen = insight_for(task=task, user=consumer)
    assert seen.status == "ready"
    for ref in seen.report.prune.suspects.rows:
        assert ref.player in ids and ref.row is None, ref
    for point in seen.report.debug.points:
        assert all(d.row is None and d.label is None for d in point.drivers)
    body = client_for(consumer).get(f"/api/tasks/{task.pk}/insights/").json()
    for name, item in body["report"]["prune"]["rows"]["by_dataset"].items():
        assert item["rows"] == [] and item["hidden"] == item["count"] > 0, name
    stranger = make_user("stranger", "consumer")
    with pytest.raises(Exception, match="not your task"):
        insight_for(task=task, user=stranger)


@dataclass(frozen=True)
class Future(Record):
    """A section the redaction was not written for, holding row references deep down."""

    nested: tuple[tuple[RowRef, ...], ...]


@dataclass(frozen=True)
class LaterReport(InsightReport):
    future: Future = Future(())


def test_a_section_the_reader_does_not_know_is_redacted_all_the_same(insight):
    task, ids, consumer, done = insight
    own = RowRef(None, 3, label=1)  # the consumer's own row stays shown
    theirs = RowRef(ids[0], 7, label=0, value=-0.5)
    stored = InsightReport.from_dict(done.report)
    later = LaterReport(
        **{f.name: getattr(stored, f.name) for f in fields(stored)}, future=Future(((own, theirs),))
    )
    seen = report_readable(later, user=consumer, dataset_ids=ids)
    assert seen.future.nested == ((own, RowRef(ids[0], None, value=-0.5)),)
    assert all(r.row is None for r in seen.sensitivity.loss.rows if r.player is not None)


def row_values(done: TaskInsight) -> dict[tuple[int, int], float]:
    with done.row_values_file.open("rb") as handle, np.load(handle) as arrays:
        keys = zip(arrays["dataset"].tolist(), arrays["position"].tolist(), strict=True)
        return dict(zip(keys, arrays["value"].tolist(), strict=True))


def test_a_row_offer_buys_the_most_valuable_rows_within_budget(insight):
    task, ids, consumer, done = insight
    offer = task_row_offer(task=task, user=consumer, budget_cents=3_000)
    settlement = offer.settlement
    charge = settlement.charge_cents
    assert 0 < charge == offer.price_cents <= 3_000
    assert charge == sum(settlement.payouts.values()) + settlement.fee_cents
    assert settlement.withheld_cents == settlement.refund_cents == 0
    assert sum(offer.row_cents.values()) == charge
    assert TaskInsight.objects.get(pk=done.pk).row_offer == offer.to_dict()
    values = row_values(done)
    bought = {(int(d), row) for d, rows in offer.rows.items() for row in rows}
    assert all(values[key] > 0 for key in bought)
    # The most valuable rows come first (the five best cost about 2,600 cents together).
    best = sorted(values, key=values.get, reverse=True)[:5]
    assert set(best) <= bought
    # With the whole budget, rows of the dataset whose labels were flipped are the fewest.
    whole = task_row_offer(task=task, user=consumer, budget_cents=20_000)
    counts = {int(d): len(rows) for d, rows in whole.rows.items()}
    assert counts.get(ids[2], 0) < min(counts.get(ids[0], 0), counts.get(ids[1], 0)), counts
    offer = task_row_offer(task=task, user=consumer, budget_cents=3_000)

    order = task_purchase(task=task, user=consumer, kind=Order.Kind.ROWS)
    assert order.kind == "rows" and order.price_cents == charge
    granted = {e.dataset_id: e.rows for e in Entitlement.objects.filter(order=order)}
    assert granted == {int(d): list(rows) for d, rows in offer.rows.items()}
    assert_ledger_balanced()
    wallet = client_for(consumer).get("/api/wallet/").json()
    assert wallet["balance_cents"] == 50_000 - charge and wallet["held_cents"] == 0

    seen = insight_for(task=task, user=consumer).report.prune.suspects.rows
    for ref in seen:
        assert ref.row is None or ref.row in granted.get(ref.player, []), ref


def test_the_bundle_purchase_reveals_the_bought_datasets_rows(insight):
    task, ids, consumer, _ = insight
    task_purchase(task=task, user=consumer)
    bundle = {int(d) for d in task.quote["offer"]["bundle"]}
    seen = insight_for(task=task, user=consumer).report
    for ref in seen.prune.suspects.rows:
        assert (ref.row is not None) == (ref.player in bundle), ref
    drivers = [d for p in seen.debug.points for d in p.drivers]
    assert drivers and all(d.row is not None for d in drivers)


def test_row_offers_are_refused_clearly(insight, market):
    task, _, consumer, _ = insight
    with pytest.raises(ServiceError, match="this task's budget is 20000"):
        task_row_offer(task=task, user=consumer, budget_cents=20_001)
    with pytest.raises(Conflict, match="ask for a row offer first"):
        task_purchase(task=task, user=consumer, kind="rows")
    task_row_offer(task=task, user=consumer, budget_cents=0)
    with pytest.raises(Conflict, match="buys no rows"):
        task_purchase(task=task, user=consumer, kind="rows")


def test_a_row_purchase_after_a_quote_without_sale_holds_what_it_needs(market):
    _, ids, consumer = market
    task = quoted_task(consumer, candidates=[ids[2]], budget_cents=2_000)
    assert not task.quote["offer"]["sale"] and task.held_cents == 0
    insight_run(task.pk)
    offer = task_row_offer(task=task, user=consumer, budget_cents=2_000)
    assert offer.price_cents > 0
    poor = make_user("poor", "consumer")
    task.consumer = poor
    task.save(update_fields=["consumer"])
    with pytest.raises(InsufficientFunds):
        task_purchase(task=task, user=poor, kind="rows")
    assert not Order.objects.exists()
    task.consumer = consumer
    task.save(update_fields=["consumer"])
    order = task_purchase(task=task, user=consumer, kind="rows")
    assert order.price_cents == offer.price_cents
    assert_ledger_balanced()


def test_providers_see_signals_only_across_enough_consumers(market, settings):
    _, ids, first = market
    settings.DATAFAIR_INSIGHTS = {**settings.DATAFAIR_INSIGHTS, "min_consumers": 2}
    task = quoted_task(first)
    insight_run(task.pk)
    assert QualitySignal.objects.filter(task=task).count() == 3
    report = dataset_quality_from_tasks(task.candidates.get(pk=ids[2]))
    assert report == {**report, "shown": False, "consumers": 1, "rows": [], "mean_change": None}

    second = make_user("second", "consumer")
    wallet_deposit(user=second, amount_cents=50_000)
    insight_run(quoted_task(second).pk)
    report = dataset_quality_from_tasks(task.candidates.get(pk=ids[2]))
    assert report["shown"] and report["consumers"] == 2 and report["tasks"] == 2
    assert report["rows"], "two tasks on the same validation data flag common rows"
    assert all(row["flagged_by"] == 2 and 0 <= row["row"] < 80 for row in report["rows"])
    # The mean over the consumers' tasks of what dropping the flagged rows changed (here a
    # row or two of the validation set either way: the sign is not a property of the code).
    signals = QualitySignal.objects.filter(dataset_id=ids[2])
    changes = [s.score_after - s.score_before for s in signals]
    assert len(changes) == 2 and report["mean_change"] == pytest.approx(sum(changes) / 2)


def test_insights_that_cannot_be_computed_are_failed_not_fatal(market):
    _, _, consumer = market
    task = quoted_task(consumer)
    job = task.valuation_job
    job.spec = job.spec.replace(valid="missing.csv")
    job.save(update_fields=["spec"])
    done = insight_run(task.pk)
    assert done.status == TaskInsight.Status.FAILED and "missing.csv" in done.error
    task.refresh_from_db()
    assert task.status == Task.Status.QUOTED


def test_row_values_cover_every_candidate_row(insight):
    _, ids, _, done = insight
    with done.row_values_file.open("rb") as handle, np.load(handle) as arrays:
        assert sorted(np.unique(arrays["dataset"]).tolist()) == sorted(ids)
        assert arrays["value"].shape == (240,)
        for dataset in ids:
            positions = arrays["position"][arrays["dataset"] == dataset]
            assert positions.tolist() == list(range(80))


def test_the_api_serves_insights_row_offers_and_row_purchases(insight):
    task, ids, consumer, _ = insight
    client = client_for(consumer)
    seen = client.get(f"/api/tasks/{task.pk}/insights/")
    assert seen.status_code == 200
    assert seen.json()["status"] == "ready" and seen.json()["report"]["prune"]["datasets"]
    other = client_for(make_user("other", "consumer"))
    assert other.get(f"/api/tasks/{task.pk}/insights/").status_code == 404

    refused = client.post(f"/api/tasks/{task.pk}/row-offer/", {"budget_cents": -5}, format="json")
    assert refused.status_code == 400 and "budget_cents" in refused.json()["errors"]
    offer = client.post(f"/api/tasks/{task.pk}/row-offer/", {"budget_cents": 4_000}, format="json")
    assert offer.status_code == 200, offer.json()
    charge = offer.json()["price_cents"]
    assert 0 < charge <= 4_000

    buy = {"kind": "rows"}
    first = client.post(
        f"/api/tasks/{task.pk}/purchase/", buy, format="json", HTTP_IDEMPOTENCY_KEY="rows-1"
    )
    again = client.post(
        f"/api/tasks/{task.pk}/purchase/", buy, format="json", HTTP_IDEMPOTENCY_KEY="rows-1"
    )
    assert first.status_code == again.status_code == 201, first.json()
    assert first.json() == again.json()
    order = first.json()
    assert order["kind"] == "rows" and order["price_cents"] == charge
    assert order["rows"] == {d: len(rows) for d, rows in offer.json()["rows"].items()}
    assert Order.objects.count() == 1
    assert_ledger_balanced()
    bad = client.post(f"/api/tasks/{task.pk}/purchase/", {"kind": "half"}, format="json")
    assert bad.status_code in (400, 409)


def test_a_row_buyer_downloads_exactly_the_bought_rows(insight, market):
    task, ids, consumer, _ = insight
    offer = task_row_offer(task=task, user=consumer, budget_cents=5_000)
    task_purchase(task=task, user=consumer, kind=Order.Kind.ROWS)
    client = client_for(consumer)
    for dataset, rows in offer.rows.items():
        response = client.get(f"/api/datasets/{dataset}/download/")
        assert response.status_code == 200
        got = b"".join(response.streaming_content).decode()
        owner = Dataset.objects.get(pk=int(dataset))
        with owner.original_file.open("rb") as handle:
            lines = handle.read().decode().splitlines()
        assert got.splitlines() == [lines[0]] + [lines[1 + row] for row in sorted(rows)]
    unbought = set(ids) - {int(d) for d in offer.rows}
    for dataset in unbought:
        assert client.get(f"/api/datasets/{dataset}/download/").status_code == 403


def test_rows_of_a_parquet_file_keep_their_types():
    frame = pd.DataFrame({"a": [1, 2, 3, 4], "b": ["w", "x", "y", "z"], "c": [0.5, 1.5, 2.5, 3.5]})
    raw = io.BytesIO()
    frame.to_parquet(raw, index=False)
    subset = pd.read_parquet(io.BytesIO(rows_of_file(raw.getvalue(), "d.parquet", [1, 3])))
    pd.testing.assert_frame_equal(subset, frame.iloc[[1, 3]].reset_index(drop=True))
    csv_rows = rows_of_file(b'a,b\n1,"x,y"\n2,z\n', "d.csv", [0]).decode()
    assert csv_rows == 'a,b\n1,"x,y"\n'


def test_a_row_purchase_names_the_offer_it_buys(insight):
    task, _, consumer, _ = insight
    first = task_row_offer(task=task, user=consumer, budget_cents=2_000)
    newer = task_row_offer(task=task, user=consumer, budget_cents=4_000)
    assert first.key != newer.key
    with pytest.raises(Conflict, match="offer changed"):
        task_purchase(task=task, user=consumer, kind="rows", offer_key=first.key)
    assert not Order.objects.exists()
    order = task_purchase(task=task, user=consumer, kind="rows", offer_key=newer.key)
    assert order.price_cents == newer.price_cents


def test_the_detectors_examine_at_most_the_configured_sample(market, settings, monkeypatch):
    from marketplace.web.insights import suggestions
    from valuation.core import insights

    _, ids, consumer = market
    settings.DATAFAIR_INSIGHTS = {**settings.DATAFAIR_INSIGHTS, "max_rows": 120}
    monkeypatch.setattr(insights, "MIN_EXAMINED_PER_SOURCE", 10)
    task = quoted_task(consumer)
    done = insight_run(task.pk)
    assert done.status == TaskInsight.Status.READY, done.error
    rows = InsightReport.from_dict(done.report).prune.suspects
    assert rows.training_rows == 240 and rows.examined == 120
    assert rows.count == 12, "the lowest 10% of the rows examined"
    seen = insight_for(task=task, user=consumer).report
    texts = [item.why for item in suggestions(seen, {}, "accuracy")]
    assert any("a sample of 120 of the 240 training rows" in text for text in texts)
