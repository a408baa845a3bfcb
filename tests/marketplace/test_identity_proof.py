"""Through the API, end to end: a seller who offers the same rows as several datasets under
several accounts is paid what it would be paid for one dataset, and the honest provider
beside it is paid the same — the attack that provider-level Shapley values rewarded."""

import io

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.datasets import load_breast_cancer

from marketplace.models import Task
from marketplace.services.wallet import wallet_deposit
from tests.support.builders import client_for, make_user, publish, submit, table_csv, upload
from tests.support.jobs import run_task

pytestmark = pytest.mark.django_db


def pieces(data: bytes, k: int) -> list[bytes]:
    """The rows of a CSV cut into ``k`` files of consecutive rows."""
    frame = pd.read_csv(io.BytesIO(data))
    size = -(-len(frame) // k)
    return [frame.iloc[i * size : (i + 1) * size].to_csv(index=False).encode() for i in range(k)]


def quoted(consumer, candidates: list[int] | None = None) -> dict:
    response = submit(consumer, **({} if candidates is None else {"candidates": candidates}))
    assert response.status_code == 201, response.json()
    task = run_task(Task.objects.get(pk=response.json()["id"]))
    assert task.status == Task.Status.QUOTED, task.error
    assert task.quote["offer"]["sale"], task.quote["offer"]["reason"]
    return task.quote


def paid(quote: dict) -> dict[int, int]:
    return {int(pid): c for pid, c in quote["offer"]["settlement"]["payouts"].items()}


@pytest.mark.parametrize("k", [2])
def test_splitting_the_same_rows_over_accounts_changes_no_payout(settings, k):
    # The copies of the attacker's rows must reach the market in both forms, so the holds
    # for overlapping uploads (tested elsewhere) are lifted here.
    settings.DATAFAIR_DUPLICATE_HOLD_FRACTION = 2.0
    settings.DATAFAIR_SIMILARITY_HOLD = 2.0
    honest_rows, attacker_rows = table_csv(160, seed=1), table_csv(160, seed=2)
    honest = publish(client_for(make_user("honest", "provider")), honest_rows, "honest")
    whole = publish(client_for(make_user("seller", "provider")), attacker_rows, "whole")
    split = [
        publish(client_for(make_user(f"sybil{i}", "provider")), part, f"part {i}")
        for i, part in enumerate(pieces(attacker_rows, k))
    ]
    consumer = make_user("buyer", "consumer")
    wallet_deposit(user=consumer, amount_cents=100_000)

    one = quoted(consumer, [honest, whole])
    many = quoted(consumer, [honest, *split])

    # The same rows earn the same credit, however they are cut.
    value = {c["dataset"]: c["value"] for q in (one, many) for c in q["contributions"]}
    assert sum(value[pid] for pid in split) == pytest.approx(value[whole], abs=1e-9)
    assert value[honest] == pytest.approx(
        next(c["value"] for c in one["contributions"] if c["dataset"] == honest), abs=1e-9
    )
    assert all(value[pid] > 0 for pid in split), "here every piece adds to the task"
    # So the same rows are sold at the same price and paid the same: largest-remainder
    # rounding may move a cent per account, nothing more.
    settlement = many["offer"]["settlement"]
    assert settlement["charge_cents"] == one["offer"]["settlement"]["charge_cents"]
    assert set(paid(many)) == {honest, *split}
    assert abs(sum(paid(many)[pid] for pid in split) - paid(one)[whole]) <= k
    assert abs(paid(many)[honest] - paid(one)[honest]) <= k
    assert any(line["kind"] == "split" for line in many["offer"]["explanation"])


def test_a_near_copy_under_another_account_earns_its_copier_nothing(settings):
    # Screening would hold a dataset that is all copies; lifted here to see the valuation.
    settings.DATAFAIR_DUPLICATE_HOLD_FRACTION = 2.0
    settings.DATAFAIR_SIMILARITY_HOLD = 2.0
    original = table_csv(160, seed=1)
    honest = publish(client_for(make_user("honest", "provider")), original, "original")
    own = publish(client_for(make_user("seller", "provider")), table_csv(160, seed=2), "own")
    frame = pd.read_csv(io.BytesIO(original)).iloc[:60].copy()
    numeric = ["f1", "f2", "f3", "f4"]
    frame[numeric] += np.random.default_rng(0).normal(0, 0.01, size=(60, 4))
    copy = publish(
        client_for(make_user("copier", "provider")), frame.to_csv(index=False).encode(), "copy"
    )
    consumer = make_user("buyer", "consumer")
    wallet_deposit(user=consumer, amount_cents=100_000)

    # Every published dataset is a candidate (the market lists the newest first); the
    # valuation still knows which upload came first.
    quote = quoted(consumer)

    value = {c["dataset"]: c["value"] for c in quote["contributions"]}
    assert value[copy] == 0.0, "its rows' credit went to the rows they copy"
    assert copy not in paid(quote) and quote["offer"]["excluded"][str(copy)] == "no_contribution"
    assert value[honest] > 0 and honest in paid(quote)
    assert own in paid(quote), "the copier's own rows are paid as anyone's"


def test_the_market_pays_only_a_measurable_contribution(settings):
    frame = load_breast_cancer(as_frame=True).frame.rename(columns={"target": "y"})
    frame = frame.sample(frac=1.0, random_state=7).reset_index(drop=True)
    parts = {"north": frame.iloc[:120], "south": frame.iloc[120:240], "few": frame.iloc[240:250]}
    ids = {
        name: publish(
            client_for(make_user(name, "provider")), part.to_csv(index=False).encode(), name
        )
        for name, part in parts.items()
    }
    consumer = make_user("buyer", "consumer")
    wallet_deposit(user=consumer, amount_cents=100_000)

    def quote_with(paid_fdr: float) -> dict:
        settings.DATAFAIR_PAID_FDR = paid_fdr
        form = {
            "validation_file": upload(frame.iloc[480:].to_csv(index=False).encode(), "v.csv"),
            "label_column": "y",
            "metric": "accuracy",
            "model": "logistic_regression",
            "budget_cents": 20_000,
            "value_per_point_cents": 500,
        }
        response = client_for(consumer).post("/api/tasks/", form, format="multipart")
        return run_task(Task.objects.get(pk=response.json()["id"])).quote

    market, lenient = quote_with(0.05), quote_with(1.0)

    values = {c["dataset"]: c for c in market["contributions"]}
    noise = {n: norm.sf(c["value"] / c["stderr"]) for n, c in values.items()}
    # Ten good rows add a little, within the sampling's noise of nothing: paid when any
    # positive value is, left out at the market's bar, which the clinics clear. (Of three
    # tests, Benjamini-Hochberg at 5% keeps the least certain only when its p <= 0.05.)
    assert values[ids["few"]]["value"] > 0 and noise[ids["few"]] > 0.05
    assert max(noise[ids["north"]], noise[ids["south"]]) <= 2 * 0.05 / 3
    assert str(ids["few"]) in lenient["offer"]["settlement"]["payouts"]
    offer = market["offer"]
    assert offer["excluded"] == {str(ids["few"]): "no_contribution"}
    assert set(offer["settlement"]["payouts"]) == {str(ids["north"]), str(ids["south"])}
    assert any(
        line["kind"] == "left_out"
        and line["provider"] == str(ids["few"])
        and "at a false-discovery rate of 5%" in line["text"]
        for line in offer["explanation"]
    )
