"""A ready task's insights and a row offer, as the API serves them, against the schema: every
field of the report and the offer is documented, rows of unbought datasets included."""

from __future__ import annotations

from marketplace.models import Task
from tests.contract.openapi import load_schema, token_header

schema = load_schema()


def test_ready_insights_and_a_row_offer_conform(insight_state, media_root, db):
    task_pk, _ = insight_state.for_test(media_root)
    task = Task.objects.select_related("consumer").get(pk=task_pk)
    headers = token_header(task.consumer)
    case = schema["/api/tasks/{id}/row-offer/"]["POST"].Case(
        path_parameters={"id": task.pk},
        body={"budget_cents": 3_000},
        media_type="application/json",
    )
    offer = case.call_and_validate(headers=headers)
    assert offer.status_code == 200 and offer.json()["settlement"]["charge_cents"] > 0
    case = schema["/api/tasks/{id}/insights/"]["GET"].Case(path_parameters={"id": task.pk})
    response = case.call_and_validate(headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready" and body["row_offer"] == offer.json()
    report = body["report"]
    assert report["prune"]["datasets"] and report["debug"]["points"]
    drivers = [d for point in report["debug"]["points"] for d in point["drivers"]]
    assert drivers and all(d["row"] is None and d["label"] is None for d in drivers)
    assert all(
        item["hidden"] == item["count"] for item in report["prune"]["rows"]["by_dataset"].values()
    )
