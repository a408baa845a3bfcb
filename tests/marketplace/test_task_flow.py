"""A task from submission to purchase: budget held, valuation, quote, purchase, payouts,
downloads — with the money conserved to the cent at every step."""

import dataclasses

import pytest

from marketplace.models import Task
from tests.support.builders import assert_ledger_balanced, client_for, make_user, submit
from tests.support.jobs import run_job, run_task

pytestmark = pytest.mark.django_db


def test_submit_value_quote_buy_download_and_get_paid(market):
    providers, ids, consumer = market
    response = submit(consumer)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "queued" and body["held_cents"] == 20_000
    assert sorted(body["candidates"]) == sorted(ids)
    client = client_for(consumer)
    assert client.get("/api/wallet/").json()["balance_cents"] == 30_000

    task = Task.objects.get(pk=body["id"])
    run_task(task)
    detail = client.get(f"/api/tasks/{task.pk}/").json()
    assert detail["status"] == "quoted", detail["error"]
    assert detail["progress"]["fraction"] == 1.0
    quote = detail["quote"]
    values = {c["dataset"]: c["value"] for c in quote["contributions"]}
    assert values[ids[2]] < min(values[ids[0]], values[ids[1]])
    offer = quote["offer"]
    assert offer["sale"] is True, offer["reason"]
    assert str(ids[2]) not in offer["bundle"]
    settlement = offer["settlement"]
    charge = settlement["charge_cents"]
    assert 0 < charge <= 20_000
    assert charge == (
        sum(settlement["payouts"].values())
        + settlement["fee_cents"]
        + settlement["withheld_cents"]
        + settlement["refund_cents"]
    )
    assert offer["explanation"], "every number is explained"

    bought = client.post(f"/api/tasks/{task.pk}/purchase/", HTTP_IDEMPOTENCY_KEY="k1")
    assert bought.status_code == 201, bought.json()
    order = bought.json()
    assert order["price_cents"] == charge
    wallet = client.get("/api/wallet/").json()
    assert wallet["held_cents"] == 0
    assert wallet["balance_cents"] == 50_000 - charge + settlement["refund_cents"]
    assert_ledger_balanced()

    for pid in offer["bundle"]:
        download = client.get(f"/api/datasets/{pid}/download/")
        assert download.status_code == 200
        again = client.get(f"/api/datasets/{pid}/download/")
        assert again.status_code == 200, "re-download is free"
    assert client.get(f"/api/datasets/{ids[2]}/download/").status_code == 403

    owner_of = dict(zip(ids, providers))
    for pid, cents in settlement["payouts"].items():
        provider_client = client_for(owner_of[int(pid)])
        payouts = provider_client.get("/api/payouts/").json()["results"]
        assert [p["amount_cents"] for p in payouts] == [cents]
        receipt = payouts[0]["receipt"]
        assert receipt["dataset"]["id"] == int(pid)
        assert receipt["valuation"]["method"] == "row_shapley"
        assert receipt["valuation"]["basis_metric"] == "accuracy"
        assert receipt["valuation"]["rows_valued"] == 240
        assert receipt["payout_cents"] == cents
        assert provider_client.get("/api/wallet/").json()["earnings_cents"] == cents
    reserves = dict(zip(ids, [100, 0, 0]))
    for pid, cents in settlement["payouts"].items():
        assert cents >= reserves[int(pid)], "every payout clears its reserve"


def test_a_purchase_replayed_with_its_key_charges_once(market):
    _, _, consumer = market
    task = Task.objects.get(pk=submit(consumer).json()["id"])
    run_task(task)
    client = client_for(consumer)
    first = client.post(f"/api/tasks/{task.pk}/purchase/", HTTP_IDEMPOTENCY_KEY="same")
    second = client.post(f"/api/tasks/{task.pk}/purchase/", HTTP_IDEMPOTENCY_KEY="same")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    third = client.post(f"/api/tasks/{task.pk}/purchase/", HTTP_IDEMPOTENCY_KEY="other")
    assert third.status_code == 409
    assert len(client.get("/api/orders/").json()["results"]) == 1
    assert_ledger_balanced()


def test_insufficient_funds_hold_nothing_and_leave_no_task(market, settings):
    _, _, consumer = market
    response = submit(consumer, budget_cents=60_000)
    assert response.status_code == 402
    assert "60000 needed" in response.json()["detail"]
    assert Task.objects.count() == 0
    task_files = settings.MEDIA_ROOT / "tasks"
    assert not task_files.exists() or not any(p.is_file() for p in task_files.rglob("*"))
    assert client_for(consumer).get("/api/wallet/").json()["balance_cents"] == 50_000


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"metric": "r2"}, "metric"),
        ({"model": "ridge"}, "model"),
        ({"label_column": "nope"}, "validation_file"),
        ({"candidates": [999]}, "candidates"),
        ({"budget_cents": 0}, "budget_cents"),
    ],
)
def test_bad_tasks_are_refused_naming_the_field(market, overrides, field):
    _, _, consumer = market
    response = submit(consumer, **overrides)
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert Task.objects.count() == 0


def test_cancelling_releases_the_hold(market):
    _, _, consumer = market
    body = submit(consumer).json()
    client = client_for(consumer)
    cancelled = client.post(f"/api/tasks/{body['id']}/cancel/")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert client.get("/api/wallet/").json() | {"statement": None} == {
        "balance_cents": 50_000,
        "held_cents": 0,
        "earnings_cents": 0,
        "statement": None,
    }
    assert client.post(f"/api/tasks/{body['id']}/cancel/").status_code == 409
    assert client.post(f"/api/tasks/{body['id']}/purchase/").status_code == 409


def test_a_failed_valuation_releases_the_hold(market):
    _, _, consumer = market
    task = Task.objects.get(pk=submit(consumer).json()["id"])
    job = task.valuation_job
    missing = dataclasses.replace(job.spec.players[0], path="missing.parquet")
    job.spec = job.spec.replace(players=(missing, *job.spec.players[1:]))
    job.save(update_fields=["spec"])
    run_job(job)
    task.refresh_from_db()
    assert task.status == "failed" and "missing.parquet" in task.error
    assert task.held_cents == 0
    assert client_for(consumer).get("/api/wallet/").json()["held_cents"] == 0


def test_nobody_sees_anyone_elses_tasks(market):
    _, _, consumer = market
    body = submit(consumer).json()
    other = client_for(make_user("nosy", "consumer"))
    assert other.get(f"/api/tasks/{body['id']}/").status_code == 404
    assert other.post(f"/api/tasks/{body['id']}/cancel/").status_code == 404
    assert other.post(f"/api/tasks/{body['id']}/purchase/").status_code == 404
    assert other.get("/api/tasks/").json()["results"] == []


def test_starting_valuations_is_rate_limited_per_consumer(market, settings):
    _, _, consumer = market
    settings.DATAFAIR_TASKS_PER_HOUR = 2
    assert submit(consumer, budget_cents=100).status_code == 201
    assert submit(consumer, budget_cents=100).status_code == 201
    refused = submit(consumer, budget_cents=100)
    assert refused.status_code == 429
    assert "started 2 valuations in the past hour" in refused.json()["detail"]
    assert 0 < refused.json()["retry_after"] <= 3600
    assert refused["Retry-After"] == str(refused.json()["retry_after"])
    assert Task.objects.count() == 2


def test_a_dataset_is_left_aside_only_for_a_confidently_better_bundle(market):
    from pricing.bundle import choose_bundle
    from valuation.core.chunking import UtilityTable

    _, ids, consumer = market
    task = Task.objects.get(pk=submit(consumer).json()["id"])
    task = run_task(task)
    table = UtilityTable.from_dict(task.bundle_job.utilities)
    names = [str(n) for n in table.names]
    utilities = {frozenset(names[i] for i in c): u for c, u in table.coalition_utilities().items()}
    best = choose_bundle(
        utilities,
        reserves={str(i): r for i, r in zip(ids, [100, 0, 0])},
        budget_cents=task.budget_cents,
        cents_per_point=task.value_per_point_cents,
        fee_bps=task.quote["offer"]["fee_bps"],
        values={str(c["dataset"]): c["value"] for c in task.quote["contributions"]},
        split="values",
    ).best
    offer = task.quote["offer"]
    offered = frozenset(offer["bundle"])
    for c in task.quote["contributions"]:
        assert c["in_bundle"] == (str(c["dataset"]) in offered)
    aside = [
        c for c in task.quote["contributions"] if c["excluded_because"] == "not_in_best_bundle"
    ]
    if aside:
        assert offered == frozenset(best.bundle)
        assert offer["explanation"][0]["kind"] == "not_offered"
    else:
        assert offer["explanation"][0]["kind"] != "not_offered"


def test_a_zero_rate_limit_refuses_every_valuation(market, settings):
    _, _, consumer = market
    settings.DATAFAIR_TASKS_PER_HOUR = 0
    response = submit(consumer)
    assert response.status_code == 429
    assert "not accepting new valuations" in response.json()["detail"]


def _exhausted(task_name: str, key: int, settings) -> None:
    """As if the unit's worker had been lost on every one of its allowed attempts."""
    from work.models import Unit

    Unit.objects.filter(task=task_name, key=key).update(
        attempts=settings.DATAFAIR_WORK["max_attempts"]
    )


def test_a_chunk_given_up_fails_the_task_says_why_and_releases_the_hold(market, settings):
    from valuation.tasks import run_chunk

    _, _, consumer = market
    task = Task.objects.get(pk=submit(consumer).json()["id"])
    chunk = task.valuation_job.chunks.order_by("index").first()
    _exhausted("valuation.run_chunk", chunk.pk, settings)
    run_chunk(chunk.pk)
    task.refresh_from_db()
    assert task.status == "failed" and task.held_cents == 0
    assert f"chunk {chunk.index} gave up after 5 attempts" in task.error
    assert client_for(consumer).get("/api/wallet/").json()["held_cents"] == 0
    assert task.bundle_job.chunks.exists()
    task.bundle_job.refresh_from_db()
    assert task.bundle_job.status == "cancelled"  # nothing left to quote


def test_insights_given_up_are_failed_with_the_reason(market, settings):
    from marketplace.models import TaskInsight
    from marketplace.services.insights import insight_schedule
    from marketplace.tasks import compute_insights

    _, _, consumer = market
    task = Task.objects.get(pk=submit(consumer).json()["id"])
    insight_schedule(task)
    _exhausted("marketplace.compute_insights", task.pk, settings)
    compute_insights(task.pk)
    insight = TaskInsight.objects.get(task=task)
    assert insight.status == "failed" and "gave up after 5 attempts" in insight.error


def test_the_quote_is_its_own_unit_queued_when_the_last_job_succeeds(market):
    from marketplace.services.tasks import QUOTE_TASK, task_quote_run
    from work.models import Unit

    _, _, consumer = market
    task = Task.objects.get(pk=submit(consumer).json()["id"])
    run_job(task.valuation_job)
    assert not Unit.objects.filter(task=QUOTE_TASK, key=task.pk).exists()  # one job is left
    run_job(task.bundle_job)
    task.refresh_from_db()
    assert task.status == "queued" and task.quote is None  # valued, not yet priced
    assert Unit.objects.get(task=QUOTE_TASK, key=task.pk).state == Unit.State.QUEUED
    progress = client_for(consumer).get(f"/api/tasks/{task.pk}/").json()["progress"]
    # Its message goes out on commit, which this test's transaction never reaches: it waits.
    assert progress["fraction"] == 1.0 and progress["waiting_for_broker"] is True
    task_quote_run(task.pk)
    task.refresh_from_db()
    assert task.status == "quoted"
    quoted = task.quote
    task_quote_run(task.pk)  # a re-sent message changes nothing
    task.refresh_from_db()
    assert task.quote == quoted and task.status == "quoted"


def test_a_quote_given_up_fails_the_task_and_releases_the_hold(market, settings):
    from marketplace.services.tasks import QUOTE_TASK
    from marketplace.tasks import quote_task

    _, _, consumer = market
    task = Task.objects.get(pk=submit(consumer).json()["id"])
    for job in (task.valuation_job, task.bundle_job):
        run_job(job)
    _exhausted(QUOTE_TASK, task.pk, settings)
    quote_task(task.pk)
    task.refresh_from_db()
    assert task.status == "failed" and task.quote is None and task.held_cents == 0
    assert "the quote gave up after 5 attempts" in task.error
    assert client_for(consumer).get("/api/wallet/").json()["held_cents"] == 0


def test_a_quote_that_cannot_be_made_fails_the_task_and_releases_the_hold(market, monkeypatch):
    from marketplace.services import tasks

    def refuse(*args, **kwargs):
        raise ValueError("no price fits these terms")

    _, _, consumer = market
    task = Task.objects.get(pk=submit(consumer).json()["id"])
    for job in (task.valuation_job, task.bundle_job):
        run_job(job)
    monkeypatch.setattr(tasks, "quote", refuse)
    tasks.task_quote_run(task.pk)
    task.refresh_from_db()
    assert task.status == "failed" and task.held_cents == 0
    assert task.error == "the quote could not be made: no price fits these terms"


def test_a_task_submitted_while_the_broker_is_down_is_stored_and_says_it_waits(
    market, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.test import Client
    from django.utils import timezone

    from tests.support.broker import broker_down, private_queue
    from work.services import queue_length, sweep

    _, _, consumer = market
    with private_queue(), broker_down(), django_capture_on_commit_callbacks(execute=True):
        response = submit(consumer)
    assert response.status_code == 201, response.json()
    task_id = response.json()["id"]
    task = Task.objects.get(pk=task_id)
    detail = client_for(consumer).get(f"/api/tasks/{task_id}/").json()
    assert detail["status"] == "queued" and detail["held_cents"] == 20_000
    assert detail["progress"]["waiting_for_broker"] is True
    web = Client()
    web.force_login(consumer)
    page = web.get(f"/tasks/{task_id}/progress/").content.decode()
    assert "waiting for the message queue to come back" in page
    from work.models import Unit

    with private_queue():  # the broker is back; the sweep sends what waited (10 s on)
        Unit.objects.update(queued_at=timezone.now() - timedelta(minutes=1))
        sent = sweep()
        assert sent == queue_length() and sent >= task.valuation_job.chunks.count()
    detail = client_for(consumer).get(f"/api/tasks/{task_id}/").json()
    assert detail["progress"]["waiting_for_broker"] is False
