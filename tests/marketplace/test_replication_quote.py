"""Overlap found at upload feeds the quote's replication penalty: providers whose data
another provider also sells are paid a smaller share, and the money stays conserved."""

import dataclasses

import pytest

from marketplace.models import Dataset, Task
from marketplace.quality import DatasetQuality
from tests.support.builders import submit
from tests.support.jobs import run_task
from valuation.core.detection import ScreenNumbers

pytestmark = pytest.mark.django_db


def quote_for(consumer) -> dict:
    task = Task.objects.get(pk=submit(consumer).json()["id"])
    run_task(task)
    task.refresh_from_db()
    assert task.status == Task.Status.QUOTED, task.error
    return task.quote["offer"]


def measured_similar(dataset: Dataset, similar_to: dict[str, float]) -> None:
    """Store ``similar_to`` as the dataset's screening measured it."""
    quality = DatasetQuality.from_dict(dataset.quality)
    screening = dataclasses.replace(quality.screening or ScreenNumbers(), similar_to=similar_to)
    dataset.quality = dataclasses.replace(quality, screening=screening).to_dict()
    dataset.save(update_fields=["quality"])


def test_overlap_by_chance_costs_nothing(market, settings):
    _, ids, consumer = market
    for pk in ids[1:]:
        measured_similar(Dataset.objects.get(pk=pk), {str(ids[0]): 0.04})
    offer = quote_for(consumer)
    assert offer["sale"] and offer["settlement"]["refund_cents"] == 0
    assert not any(line["numbers"].get("factor", 1) != 1 for line in offer["explanation"])


def test_overlapping_providers_share_less_and_the_rest_is_refunded(market):
    _, ids, consumer = market
    plain = quote_for(consumer)
    assert plain["sale"] and plain["settlement"]["refund_cents"] == 0
    honest = [str(pk) for pk in ids[:2]]
    assert set(plain["bundle"]) == set(honest)

    measured_similar(Dataset.objects.get(pk=ids[1]), {honest[0]: 0.43})
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
