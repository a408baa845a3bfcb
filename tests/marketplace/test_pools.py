"""Annotation pools: ranking, labeling in rounds, refused uploads and labels, who may see a
pool, and the export of the labels given."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from marketplace.models import LabelPool
from marketplace.services.datasets import read_upload
from marketplace.services.errors import PermissionDenied, ServiceError
from marketplace.services.pools import (
    pool_create,
    pool_export,
    pool_label,
    pool_next_batch,
    pool_note,
    pool_seed,
)
from tests.support.builders import (
    POOL_ROWS,
    client_for,
    make_task,
    make_user,
    pool_table,
    upload,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(consumer):
    return make_task(consumer)


def create(task, strategy="value", batch_size=10, data=None):
    data = pool_table()[0] if data is None else data
    return pool_create(
        task=task,
        user=task.consumer,
        upload=upload(data, "pool.csv"),
        strategy=strategy,
        batch_size=batch_size,
    )


def label_batch(pool, truth):
    batch = pool.ranking[: pool.batch_size]
    return pool_label(pool=pool, user=pool.consumer, labels={r: int(truth[r]) for r in batch})


def pool_files(settings) -> list:
    folder = settings.MEDIA_ROOT / "pools"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


# --- ranking ---------------------------------------------------------------------------------


def test_a_new_pool_ranks_every_row_and_offers_a_batch_of_its_size(task):
    pool = create(task, batch_size=7)
    assert sorted(pool.ranking) == list(range(POOL_ROWS)) and pool.n_rows == POOL_ROWS
    assert len(pool.scores) == POOL_ROWS
    assert pool.scores == sorted(pool.scores, reverse=True), "first to annotate first"
    batch = pool_next_batch(pool)
    assert [b["row"] for b in batch] == pool.ranking[:7]
    frame = pd.read_csv(io.BytesIO(pool_table()[0]))
    first = batch[0]
    assert first["values"] == frame.iloc[first["row"]].to_dict()
    assert pool_note(pool) == "", "the baseline has both classes"


def test_labeled_rows_leave_the_ranking(task):
    _, truth = pool_table()
    pool = create(task)
    batch = pool.ranking[:10]
    pool = label_batch(pool, truth)
    assert pool.rounds == 1 and sorted(map(int, pool.labels)) == sorted(batch)
    assert set(pool.ranking) == set(range(POOL_ROWS)) - set(batch)
    assert len(pool.scores) == POOL_ROWS - 10
    assert {b["row"] for b in pool_next_batch(pool)}.isdisjoint(batch)


def test_the_strategies_order_the_pool_differently(task):
    rankings = {s: create(task, strategy=s).ranking for s in LabelPool.Strategy.values}
    assert rankings["value"] != rankings["uncertainty"]
    assert rankings["value"] != rankings["random"]
    assert rankings["uncertainty"] != rankings["random"]


@pytest.mark.parametrize("strategy", ["value", "uncertainty"])
def test_labels_change_the_order_of_the_rest(task, strategy):
    _, truth = pool_table()
    pool = create(task, strategy=strategy)
    before = pool.ranking
    pool = label_batch(pool, truth)
    kept = [r for r in before if r in set(pool.ranking)]
    assert pool.ranking != kept, "the model refitted on the new labels reorders the pool"


def test_the_random_order_is_reproducible_and_keeps_its_order_as_rows_are_labeled(task):
    _, truth = pool_table()
    pool = create(task, strategy="random")
    again = create(task, strategy="random")
    assert again.ranking != pool.ranking, "each pool has its own seed"
    before = pool.ranking
    pool = label_batch(pool, truth)
    assert pool.ranking == before[10:]
    assert pool.ranking == [r for r in seeded_order(pool) if str(r) not in pool.labels]


def seeded_order(pool) -> list[int]:
    """The pool's random order, drawn as the engine draws it from the pool's seed."""
    draws = np.random.default_rng(pool_seed(pool)).random(pool.n_rows)
    return np.argsort(-draws, kind="stable").tolist()


@pytest.mark.parametrize("strategy", ["value", "uncertainty"])
def test_without_two_labeled_classes_the_pool_falls_back_to_its_random_order_and_says_so(
    consumer, strategy
):
    _, truth = pool_table()
    task = make_task(consumer, baseline=False)
    pool = create(task, strategy=strategy)
    assert "fewer than two classes" in pool_note(pool)
    assert pool.ranking == seeded_order(pool)
    zeros = truth[truth == 0].index[:2].tolist()
    pool = pool_label(pool=pool, user=consumer, labels={r: 0 for r in zeros})
    assert "fewer than two classes" in pool_note(pool), "one class is still no model"
    assert pool.ranking == [r for r in seeded_order(pool) if r not in zeros]
    one = int(truth[truth == 1].index[0])
    pool = pool_label(pool=pool, user=consumer, labels={one: 1})
    assert pool_note(pool) == ""
    assert pool.ranking != [r for r in seeded_order(pool) if r not in {*zeros, one}]


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "column", "words"),
    [
        ({"y": 1}, "y", "label column"),
        ({"f3": None}, "f3", "missing"),
        ({"extra": 1.0}, "extra", "not a feature"),
        ({"colour": 3.5}, "colour", "numeric in the pool"),
        ({"f2": "high"}, "f2", "categorical in the pool"),
    ],
)
def test_a_pool_without_exactly_the_tasks_features_is_refused_by_column(
    task, settings, changes, column, words
):
    data, _ = pool_table(**changes)
    with pytest.raises(ServiceError) as refused:
        create(task, data=data)
    assert refused.value.details["column"] == column
    assert column in refused.value.message and words in refused.value.message
    assert not LabelPool.objects.exists() and pool_files(settings) == []


def test_a_missing_value_is_refused_naming_row_and_column(task, settings):
    frame = pd.read_csv(io.BytesIO(pool_table()[0]))
    frame.loc[4, "f1"] = None
    with pytest.raises(ServiceError) as refused:
        create(task, data=frame.to_csv(index=False).encode())
    assert refused.value.details == {"row": 5, "column": "f1"}
    assert not LabelPool.objects.exists() and pool_files(settings) == []


def test_a_failure_while_ranking_leaves_no_pool_and_no_file(task, settings):
    task.validation_file.storage.delete(task.validation_file.name)
    with pytest.raises(FileNotFoundError):
        create(task)
    assert not LabelPool.objects.exists() and pool_files(settings) == []


def test_regression_tasks_take_the_random_strategy_only(consumer):
    task = make_task(consumer)
    task.schema = {**task.schema, "task": "regression", "classes": []}
    task.save(update_fields=["schema"])
    with pytest.raises(ServiceError) as refused:
        create(task, strategy="uncertainty")
    assert refused.value.field == "strategy"
    pool = create(task, strategy="random")
    with pytest.raises(ServiceError, match="row 3: the label 'tall' is not a number"):
        pool_label(pool=pool, user=consumer, labels={3: "tall"})
    pool = pool_label(pool=pool, user=consumer, labels={3: "2.5", 4: 7})
    assert pool.labels == {"3": 2.5, "4": 7.0}


@pytest.mark.parametrize(
    ("labels", "words"),
    [
        ({POOL_ROWS: 1}, f"row {POOL_ROWS} is not in the pool"),
        ({-1: 1}, "row -1 is not in the pool"),
        ({5: "benign"}, "row 5: 'benign' is not a class of this task; the classes are 0, 1"),
        ({5: 2}, "row 5: 2 is not a class"),
        ({5: [1]}, "row 5: [1] is not a class"),
        ({5: True}, "row 5: True is not a class"),
        ({}, "give at least one label"),
    ],
)
def test_bad_labels_are_refused_naming_the_row_and_nothing_changes(task, labels, words):
    pool = create(task)
    ranking = pool.ranking
    with pytest.raises(ServiceError, match=words.replace("[", r"\[").replace("]", r"\]")):
        pool_label(pool=pool, user=task.consumer, labels=labels)
    pool.refresh_from_db()
    assert pool.labels == {} and pool.rounds == 0 and pool.ranking == ranking


def test_a_row_is_labeled_once(task):
    pool = create(task)
    pool_label(pool=pool, user=task.consumer, labels={3: 1})
    with pytest.raises(ServiceError, match="row 3 is already labeled"):
        pool_label(pool=pool, user=task.consumer, labels={3: 0, 4: 1})
    pool.refresh_from_db()
    assert pool.labels == {"3": 1} and pool.rounds == 1


def test_only_the_tasks_consumer_makes_and_labels_its_pools(task):
    cora = make_user("cora", "consumer")
    with pytest.raises(PermissionDenied):
        pool_create(task=task, user=cora, upload=upload(pool_table()[0]))
    pool = create(task)
    with pytest.raises(PermissionDenied):
        pool_label(pool=pool, user=cora, labels={1: 1})


# --- export ----------------------------------------------------------------------------------


def test_the_export_neutralises_spreadsheet_formulas(task):
    data, truth = pool_table(colour=['=HYPERLINK("http://evil.example")', "red"] * 30)
    pool = create(task, data=data)
    pool = label_batch(pool, truth)
    exported = pd.read_csv(io.BytesIO(pool_export(pool)))
    assert set(exported["colour"]) <= {'\'=HYPERLINK("http://evil.example")', "red"}
    assert exported["colour"].str.startswith("=").sum() == 0


def test_the_export_holds_the_labeled_rows_with_their_labels(task):
    data, truth = pool_table()
    pool = create(task)
    given = {r: int(truth[r]) for r in pool.ranking[:10]}
    given[pool.ranking[10]] = "1"  # classes may arrive as text (a web form)
    pool = pool_label(pool=pool, user=task.consumer, labels=given)
    exported = pd.read_csv(io.BytesIO(pool_export(pool)))
    rows = sorted(given)
    original = pd.read_csv(io.BytesIO(data)).iloc[rows].reset_index(drop=True)
    pd.testing.assert_frame_equal(exported.drop(columns="y"), original)
    assert exported["y"].tolist() == [int(given[r]) for r in rows]
    # The export is a table the task's own checks accept as labeled data.
    _, schema, _ = read_upload(upload(pool_export(pool)), field="f", label="y")
    assert schema.feature_names == ["f1", "f2", "f3", "f4", "colour"]


# --- API -------------------------------------------------------------------------------------


def post_pool(client, task_id, data=None, **fields):
    form = {"file": upload(pool_table()[0] if data is None else data, "pool.csv"), **fields}
    return client.post(f"/api/tasks/{task_id}/pools/", form, format="multipart")


def test_a_consumer_labels_a_pool_in_rounds_through_the_api(task, consumer_client):
    data, truth = pool_table()
    response = post_pool(consumer_client, task.pk, strategy="uncertainty", batch_size=5, title="t")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["strategy"] == "uncertainty" and "least" in body["strategy_explanation"]
    assert (body["labeled"], body["unlabeled"], body["rounds"], body["note"]) == (0, 60, 0, "")
    batch = body["next_batch"]
    assert len(batch) == 5
    assert [b["score"] for b in batch] == sorted((b["score"] for b in batch), reverse=True)
    frame = pd.read_csv(io.BytesIO(data))
    assert batch[0]["values"] == frame.iloc[batch[0]["row"]].to_dict()

    labels = [{"row": b["row"], "label": int(truth[b["row"]])} for b in batch]
    url = f"/api/pools/{body['id']}/"
    labeled = consumer_client.post(f"{url}labels/", {"labels": labels}, format="json")
    assert labeled.status_code == 200, labeled.json()
    after = labeled.json()
    assert (after["labeled"], after["unlabeled"], after["rounds"]) == (5, 55, 1)
    assert {b["row"] for b in after["next_batch"]}.isdisjoint(b["row"] for b in batch)
    assert consumer_client.get(url).json() == after

    listed = consumer_client.get("/api/pools/").json()["results"]
    assert [p["id"] for p in listed] == [body["id"]] and "next_batch" not in listed[0]
    export = consumer_client.get(f"{url}export/")
    assert export.status_code == 200 and export["Content-Type"] == "text/csv"
    exported = pd.read_csv(io.BytesIO(export.content))
    assert sorted(zip(exported["f1"], exported["y"])) == sorted(
        (frame["f1"][b["row"]], int(truth[b["row"]])) for b in batch
    )


def test_api_refusals_name_the_column_or_the_row(task, consumer_client):
    refused = post_pool(consumer_client, task.pk, data=pool_table(extra=1.0)[0])
    assert refused.status_code == 400
    assert refused.json()["column"] == "extra" and "file" in refused.json()["errors"]
    pool = create(task)
    url = f"/api/pools/{pool.pk}/labels/"
    bad = consumer_client.post(url, {"labels": [{"row": 2, "label": "x"}]}, format="json")
    assert bad.status_code == 400 and bad.json()["detail"].startswith("row 2: 'x'")
    twice = [{"row": 2, "label": 1}, {"row": 2, "label": 0}]
    bad = consumer_client.post(url, {"labels": twice}, format="json")
    assert bad.status_code == 400 and "once" in bad.json()["detail"]
    assert consumer_client.post(url, {"labels": []}, format="json").status_code == 400


def test_other_users_get_404_for_pools_and_tasks_not_theirs(task, consumer_client):
    pool = create(task)
    cora = client_for(make_user("cora", "consumer"))
    assert post_pool(cora, task.pk).status_code == 404
    assert cora.get(f"/api/pools/{pool.pk}/").status_code == 404
    assert cora.get(f"/api/pools/{pool.pk}/export/").status_code == 404
    labels = {"labels": [{"row": 1, "label": 1}]}
    assert cora.post(f"/api/pools/{pool.pk}/labels/", labels, format="json").status_code == 404
    assert cora.get("/api/pools/").json()["results"] == []
    pool.refresh_from_db()
    assert pool.labels == {}
    paula = client_for(make_user("paula", "provider"))
    assert post_pool(paula, task.pk).status_code == 403, "providers have no tasks"
    assert consumer_client.get(f"/api/pools/{pool.pk}/").status_code == 200
