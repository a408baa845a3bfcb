"""Overlap found at upload feeds the quote's replication penalty: providers whose data
another provider also sells are paid a smaller share, and the money stays conserved."""

import pytest

from marketplace.models import Dataset, Task
from tests.support.builders import submit
from tests.support.jobs import run_task

pytestmark = pytest.mark.django_db


def quote_for(consumer) -> dict:
    task = Task.objects.get(pk=submit(consumer).json()["id"])
    run_task(task)
    task.refresh_from_db()
    assert task.status == Task.Status.QUOTED, task.error
    return task.quote["offer"]


def test_overlap_by_chance_costs_nothing(market, settings):
    _, ids, consumer = market
    for pk in ids[1:]:
        dataset = Dataset.objects.get(pk=pk)
        dataset.quality = {**dataset.quality, "similar_to": {str(ids[0]): 0.04}}
        dataset.save(update_fields=["quality"])
    offer = quote_for(consumer)
    assert offer["sale"] and offer["settlement"]["refund_cents"] == 0
    assert not any(line["numbers"].get("factor", 1) != 1 for line in offer["explanation"])


def test_overlapping_providers_share_less_and_the_rest_is_refunded(market):
    _, ids, consumer = market
    plain = quote_for(consumer)
    assert plain["sale"] and plain["settlement"]["refund_cents"] == 0
    honest = [str(pk) for pk in ids[:2]]
    assert set(plain["bundle"]) == set(honest)

    later = Dataset.objects.get(pk=ids[1])
    later.quality = {**later.quality, "similar_to": {honest[0]: 0.43}}
    later.save(update_fields=["quality"])
    penalised = quote_for(consumer)
    settlement = penalised["settlement"]
    pool = settlement["charge_cents"] - settlement["fee_cents"]
    # Overlap beyond chance: (0.43 − 0.05) / 0.95 = 0.4, so each of the two overlapping
    # providers keeps 2^-0.4 ≈ 76% of its share.
    assert sum(settlement["payouts"].values()) == pytest.approx(0.758 * pool, abs=2)
    assert settlement["refund_cents"] == pool - sum(settlement["payouts"].values())
    assert settlement["charge_cents"] == (
        sum(settlement["payouts"].values()) + settlement["fee_cents"] + settlement["refund_cents"]
    )
    assert any("replication factor" in line["text"] for line in penalised["explanation"])
    factors = [
        line["numbers"]["factor"] for line in penalised["explanation"] if line["kind"] == "provider"
    ]
    assert factors == pytest.approx([2**-0.4] * 2, abs=1e-3)
