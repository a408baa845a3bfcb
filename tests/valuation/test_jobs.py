"""Valuation jobs run chunk by chunk give the engine's answer, once, whatever happens."""

import dataclasses

import pytest

from tests.support.jobs import run_job
from tests.support.specs import cancer_spec
from valuation.core.methods import PermutationShapley
from valuation.core.stopping import MaxSamples
from valuation.data import load_job_data
from valuation.methods import build_estimator
from valuation.models import ValuationChunk, ValuationJob
from valuation.services import chunk_run, job_cancel, job_create
from valuation.signals import job_finished

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished():
    seen = []

    def receiver(sender, job, **kwargs):
        seen.append((job.pk, job.status))

    job_finished.connect(receiver)
    yield seen
    job_finished.disconnect(receiver)


def test_an_exact_job_equals_the_engine_run_in_one_process(finished):
    spec = cancer_spec(n_players=4, coalitions_per_chunk=5)
    job = job_create(spec=spec, method="exact", seed=1)
    assert job.method == "exact" and job.chunks.count() == 4  # 16 coalitions, 5 per chunk
    job = run_job(job)
    assert job.status == "succeeded" and job.progress == 1.0
    data = load_job_data(spec)
    direct = build_estimator("exact", spec, 1).fit(data.train, data.valid).result_
    assert job.result["values"] == pytest.approx(list(direct.values), abs=1e-12)
    assert job.n_utility_evaluations == 16
    assert finished == [(job.pk, "succeeded")]
    values = dict(zip(job.player_names, job.result["values"]))
    assert values["d0"] == min(values.values()), "the flipped provider is worth least"


def test_a_sampling_job_runs_rounds_until_its_rule_and_matches_the_unchunked_run():
    spec = cancer_spec(n_players=4, max_samples=30, samples_per_chunk=4)
    job = run_job(job_create(spec=spec, method="permutation", seed=7))
    assert job.status == "succeeded"
    assert job.units_done >= 30
    data = load_job_data(spec)
    direct = (
        PermutationShapley(
            model=build_estimator("permutation", spec, 7).model,
            scorer="accuracy",
            random_state=7,
            stop=MaxSamples(job.units_done),
        )
        .fit(data.train, data.valid)
        .result_
    )
    assert job.result["values"] == pytest.approx(list(direct.values), abs=1e-12)


def test_running_a_chunk_twice_counts_it_once():
    job = job_create(spec=cancer_spec(n_players=3, coalitions_per_chunk=4), method="exact", seed=1)
    first = job.chunks.order_by("index").first()
    chunk_run(chunk_id=first.pk)
    stored = ValuationChunk.objects.get(pk=first.pk).partial
    chunk_run(chunk_id=first.pk)
    job.refresh_from_db()
    assert job.units_done == 4
    assert ValuationChunk.objects.get(pk=first.pk).partial == stored


def test_a_broken_job_fails_visibly_and_says_why(finished):
    spec = cancer_spec(n_players=2)
    missing = dataclasses.replace(spec.players[1], path="test/does-not-exist.parquet")
    spec = spec.replace(players=(spec.players[0], missing))
    job = run_job(job_create(spec=spec, method="exact", seed=1))
    assert job.status == "failed"
    assert "does-not-exist" in job.error
    assert finished == [(job.pk, "failed")]


def test_a_cancelled_job_ignores_its_queued_chunks(finished):
    job = job_create(spec=cancer_spec(n_players=3, coalitions_per_chunk=2), method="exact", seed=1)
    assert job_cancel(job) is True
    assert job_cancel(job) is False
    job = run_job(job)
    assert job.status == "cancelled" and job.units_done == 0
    assert finished == [(job.pk, "cancelled")]


def test_a_redelivered_chunk_announces_a_job_whose_announcement_was_lost(finished):
    job = run_job(job_create(spec=cancer_spec(n_players=2), method="exact", seed=1))
    assert finished == [(job.pk, "succeeded")]
    # As if the worker died after committing the result but before the receivers ran.
    ValuationJob.objects.filter(pk=job.pk).update(notified_at=None)
    last = job.chunks.order_by("index").last()
    chunk_run(chunk_id=last.pk)
    chunk_run(chunk_id=last.pk)
    assert finished == [(job.pk, "succeeded"), (job.pk, "succeeded")]
    assert ValuationJob.objects.get(pk=job.pk).notified_at is not None


def test_a_method_jobs_do_not_run_is_refused_before_anything_is_stored():
    before = ValuationJob.objects.count()
    with pytest.raises(ValueError, match="unknown valuation method 'stratified'"):
        job_create(spec=cancer_spec(n_players=11, rows=30), method="stratified", seed=3)
    assert ValuationJob.objects.count() == before and ValuationChunk.objects.count() == 0


def test_a_row_job_merges_its_chunks_in_chunk_order_whichever_finishes_first(monkeypatch):
    from valuation.core.utility import ModelGame
    from valuation.methods import ROW_METHOD

    spec = cancer_spec(n_players=3, rows=30, row_units_per_chunk=1)
    per_unit = build_estimator(ROW_METHOD, spec, 5).fits_per_unit(90)
    spec = spec.replace(basis_fits=4 * per_unit)
    evaluations = []
    evaluate = ModelGame._evaluate
    monkeypatch.setattr(
        ModelGame,
        "_evaluate",
        lambda game, players: evaluations.append(1) or evaluate(game, players),
    )
    in_order = run_job(job_create(spec=spec, method=ROW_METHOD, seed=5))
    made = len(evaluations)
    reverse = job_create(spec=spec, method=ROW_METHOD, seed=5)
    for chunk in reverse.chunks.order_by("-index"):
        chunk_run(chunk_id=chunk.pk)
    reverse.refresh_from_db()
    assert in_order.status == reverse.status == "succeeded"
    assert reverse.chunks.count() == 4 and reverse.units_done == 4
    # Bit for bit: the merge does not follow the order the chunks finished in.
    assert reverse.result == in_order.result
    # The count shown is the evaluations made: chunks on one process share their fits (the
    # small strata of 90 rows repeat coalitions), and the job counts each once.
    assert in_order.n_utility_evaluations == made <= 4 * per_unit + 2
    assert reverse.n_utility_evaluations == len(evaluations) - made == made
