"""Screening at upload: near copies, flipped labels and planted triggers are held with the
number that held them; clean uploads go on sale; staff review what is held."""

import io

import numpy as np
import pandas as pd
import pytest
from django.db import OperationalError
from django.test import Client

from marketplace.models import AuditEvent, Dataset
from marketplace.quality import DatasetQuality
from marketplace.services.datasets import dataset_create
from tests.support.builders import client_for, make_user, screened, table_csv, upload

pytestmark = pytest.mark.django_db


def create(owner, data: bytes, title: str = "rows") -> Dataset:
    return dataset_create(
        owner=owner, upload=upload(data), title=title, label_column="y", license="CC0-1.0"
    )


def quality_of(dataset: Dataset) -> DatasetQuality:
    """The stored quality document, read as every reader reads it."""
    return DatasetQuality.from_dict(dataset.quality)


def frame_csv(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def published(owner, data: bytes, title: str = "reference") -> Dataset:
    dataset = screened(create(owner, data, title).pk)
    assert dataset.status == Dataset.Status.PUBLISHED, dataset.hold_reason
    return dataset


@pytest.fixture
def other(db):
    return make_user("olga", "provider")


def test_an_upload_waits_in_screening_and_a_clean_one_is_then_published(provider):
    dataset = create(provider, table_csv(60))
    assert dataset.status == Dataset.Status.SCREENING
    dataset = screened(dataset.pk)
    assert dataset.status == Dataset.Status.PUBLISHED and dataset.hold_reason == ""
    quality = quality_of(dataset)
    assert quality.screening.label_flips.reference == "none", "too few rows to self-judge"
    assert quality.screening.label_flips.skipped and quality.screening.trigger is None
    assert quality.duplicate_rows_within_file == 0, "upload's numbers are kept"
    screen = AuditEvent.objects.get(action="dataset.screen", object_id=str(dataset.pk))
    assert screen.data == {"status": "published", "reasons": []}


@pytest.mark.parametrize("n_rows", [20, 50, 200, 250])
def test_a_clean_upload_judged_against_itself_is_published(provider, n_rows):
    dataset = screened(create(provider, table_csv(n_rows, seed=2)).pk)
    assert dataset.status == Dataset.Status.PUBLISHED, dataset.hold_reason
    expected = "cross-fitted" if n_rows >= 200 else "none"
    assert quality_of(dataset).screening.label_flips.reference == expected


@pytest.mark.parametrize("n_rows", [40, 60, 80, 120, 200])
def test_the_test_tables_pass_screening_against_each_other(provider, other, n_rows):
    published(other, table_csv(n_rows, seed=1))
    dataset = screened(create(provider, table_csv(n_rows, seed=2)).pk)
    assert dataset.status == Dataset.Status.PUBLISHED, dataset.hold_reason
    assert quality_of(dataset).screening.label_flips.reference == "other providers"


def test_a_near_copy_with_noise_is_held_naming_the_dataset_and_the_similarity(provider, other):
    source = published(other, table_csv(80, seed=1), "source")
    frame = pd.read_csv(io.BytesIO(table_csv(80, seed=1)))
    rng = np.random.default_rng(0)
    features = ["f1", "f2", "f3", "f4"]
    frame[features] += 0.01 * frame[features].std().to_numpy() * rng.normal(size=(80, 4))
    copy = screened(create(provider, frame_csv(frame.sample(frac=1, random_state=0))).pk)
    assert copy.status == Dataset.Status.HELD
    sm = quality_of(copy).similar_to[str(source.pk)]
    assert sm > 0.9
    # The reason names no other provider's dataset; the owner reads which one in similar_to,
    # filtered by what they may see (test below).
    assert "another provider's dataset are near duplicates" in copy.hold_reason
    assert f"#{source.pk}" not in copy.hold_reason and "source" not in copy.hold_reason
    assert f"similarity {sm:.2f} ≥ 0.5" in copy.hold_reason


def test_independent_data_of_the_same_distribution_is_published(provider, other):
    source = published(other, table_csv(120, seed=1))
    dataset = screened(create(provider, table_csv(120, seed=2)).pk)
    assert dataset.status == Dataset.Status.PUBLISHED
    assert quality_of(dataset).similar_to.get(str(source.pk), 0) < 0.5


def test_an_upload_with_flipped_labels_is_held_with_the_measured_change(provider, other):
    published(other, table_csv(120, seed=6))
    dataset = screened(create(provider, table_csv(120, seed=3, flip=0.3)).pk)
    flips = quality_of(dataset).screening.label_flips
    assert dataset.status == Dataset.Status.HELD
    assert flips.change_points >= 2.0 and flips.p_value < 0.01 and flips.skipped == ""
    assert f"by {flips.change_points:.1f} points (≥ 2" in dataset.hold_reason


def test_the_hold_threshold_is_a_setting(provider, other, settings):
    settings.DATAFAIR_POISON_HOLD_POINTS = 50.0
    published(other, table_csv(120, seed=6))
    dataset = screened(create(provider, table_csv(120, seed=3, flip=0.3)).pk)
    assert dataset.status == Dataset.Status.PUBLISHED


def trigger_csv(n_rows: int, seed: int, value: float = 12.0) -> bytes:
    frame = pd.read_csv(io.BytesIO(table_csv(n_rows, seed=seed)))
    planted = np.random.default_rng(seed).choice(n_rows, int(0.08 * n_rows), replace=False)
    frame.loc[planted, "f1"] = value
    frame.loc[planted, "y"] = 1
    return frame_csv(frame)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_planted_trigger_is_held_naming_the_column_and_the_label(provider, other, seed):
    published(other, table_csv(120, seed=6))
    dataset = screened(create(provider, trigger_csv(120, seed)).pk)
    trigger = quality_of(dataset).screening.trigger
    assert dataset.status == Dataset.Status.HELD
    assert (trigger.column, trigger.value, trigger.label) == ("f1", 12.0, 1)
    assert "share f1 = 12" in dataset.hold_reason and "labelled 1" in dataset.hold_reason


def test_the_review_page_gives_staff_every_screen_s_numbers(provider, other, staff):
    published(other, table_csv(120, seed=6))
    dataset = screened(create(provider, trigger_csv(120, 1)).pk)
    flips = quality_of(dataset).screening.label_flips
    client = Client()
    client.force_login(staff)
    page = client.get("/review/").content.decode()
    assert f"{flips.change_points:+.1f} pts, p = {flips.p_value:.3f}" in page
    assert f"({flips.flagged_rows} rows, judged by other providers)" in page
    assert "rows with f1 = 12 (z " in page and "labelled 1" in page


def test_screening_twice_changes_nothing(provider):
    dataset = screened(create(provider, table_csv(60)).pk)
    again = screened(dataset.pk)
    assert (again.status, again.quality) == (dataset.status, dataset.quality)
    assert AuditEvent.objects.filter(action="dataset.screen").count() == 1


def test_an_exact_copy_is_held_at_upload_and_screening_leaves_it(provider, other):
    published(other, table_csv(60, seed=1))
    copy = create(provider, table_csv(60, seed=1))
    assert copy.status == Dataset.Status.HELD
    assert screened(copy.pk).hold_reason == copy.hold_reason


def test_the_report_is_cross_fitted_on_the_upload_alone(provider):
    dataset = screened(create(provider, table_csv(80, seed=3, flip=0.2)).pk)
    report = quality_of(dataset).report
    assert report.n_rows == 80 and report.scorer == "accuracy"
    assert {r.kind for r in report.removals} == {"suspects", "duplicates", "outliers", "all"}
    suspect = report.suspects[0]
    assert set(suspect) >= {"row", "consensus", "knn-shapley", "data-oob", "lava", "fold"}


@pytest.fixture
def held(provider, other):
    published(other, table_csv(60, seed=1))
    dataset = create(provider, table_csv(60, seed=1), "copy")
    assert dataset.status == Dataset.Status.HELD
    return dataset


@pytest.fixture
def staff(db):
    user = make_user("stella", "consumer")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


@pytest.mark.parametrize("decision,status", [("publish", "published"), ("reject", "rejected")])
def test_staff_review_a_held_dataset_through_the_api(held, staff, decision, status):
    response = client_for(staff).post(
        f"/api/datasets/{held.pk}/review/", {"decision": decision, "note": "checked"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == status
    held.refresh_from_db()
    assert held.status == status
    event = AuditEvent.objects.get(action=f"dataset.review.{decision}")
    assert (event.actor, event.data["note"]) == (staff, "checked")
    again = client_for(staff).post(
        f"/api/datasets/{held.pk}/review/", {"decision": decision}, format="json"
    )
    assert again.status_code == 409, "only held datasets are reviewed"


def test_only_staff_review(held, provider, other):
    for user in (provider, other):
        response = client_for(user).post(
            f"/api/datasets/{held.pk}/review/", {"decision": "publish"}, format="json"
        )
        assert response.status_code == 403
    held.refresh_from_db()
    assert held.status == Dataset.Status.HELD
    client = Client()
    client.force_login(provider)
    assert client.get("/review/").status_code == 403


def test_the_review_page_lists_held_datasets_and_publishes_one(held, staff):
    client = Client()
    client.force_login(staff)
    page = client.get("/review/").content.decode()
    assert "copy" in page and "100% of its rows are also in another provider" in page
    assert 'href="/review/"' in page, "staff get the nav link"
    response = client.post("/review/", {"dataset": held.pk, "decision": "publish", "note": ""})
    assert response.status_code == 302
    held.refresh_from_db()
    assert held.status == Dataset.Status.PUBLISHED
    assert "Nothing is held" in client.get("/review/").content.decode()


def test_the_owner_reads_status_reason_report_and_task_findings(held, provider, other):
    body = client_for(provider).get(f"/api/datasets/{held.pk}/").json()
    assert body["status"] == "held" and "another provider" in body["hold_reason"]
    clean = screened(create(provider, table_csv(80, seed=3, flip=0.2), "mine").pk)
    mine = client_for(provider).get(f"/api/datasets/{clean.pk}/").json()
    assert mine["quality"]["report"]["n_rows"] == 80
    from_tasks = mine["quality_from_tasks"]
    assert from_tasks["shown"] is False and from_tasks["min_consumers"] >= 2
    theirs = client_for(other).get(f"/api/datasets/{clean.pk}/").json()
    assert theirs["quality"] is None and theirs["quality_from_tasks"] is None
    client = Client()
    client.force_login(provider)
    page = client.get(f"/datasets/{clean.pk}/").content.decode()
    assert 'data-testid="removals"' in page and 'data-testid="suspects"' in page
    assert f"appears once {from_tasks['min_consumers']} different consumers" in page
    client.force_login(other)
    assert (
        'data-testid="quality-report"' not in client.get(f"/datasets/{clean.pk}/").content.decode()
    )


def test_the_owner_is_not_told_about_similar_datasets_they_cannot_see(provider, other):
    source = published(other, table_csv(80, seed=1), "source")
    frame = pd.read_csv(io.BytesIO(table_csv(80, seed=1)))
    rng = np.random.default_rng(1)
    features = ["f1", "f2", "f3", "f4"]
    frame[features] += 0.01 * frame[features].std().to_numpy() * rng.normal(size=(80, 4))
    copy = screened(create(provider, frame_csv(frame)).pk)
    assert str(source.pk) in quality_of(copy).similar_to
    named = client_for(provider).get(f"/api/datasets/{copy.pk}/").json()["quality"]
    assert str(source.pk) in named["screening"]["similar_to"], "a published dataset may be named"
    Dataset.objects.filter(pk=source.pk).update(status=Dataset.Status.HELD)
    hidden = client_for(provider).get(f"/api/datasets/{copy.pk}/").json()["quality"]
    assert str(source.pk) not in hidden["screening"]["similar_to"]
    assert hidden["screening"]["label_flips"] == named["screening"]["label_flips"]


def test_the_owner_of_a_copy_of_a_held_twin_learns_nothing_of_the_twin(provider, other, staff):
    twin = published(other, table_csv(80, seed=1), "Quietly Held Twin")
    Dataset.objects.filter(pk=twin.pk).update(status=Dataset.Status.HELD, hold_reason="review")
    frame = pd.read_csv(io.BytesIO(table_csv(80, seed=1)))
    rng = np.random.default_rng(2)
    features = ["f1", "f2", "f3", "f4"]
    frame[features] += 0.01 * frame[features].std().to_numpy() * rng.normal(size=(80, 4))
    copy = screened(create(provider, frame_csv(frame), "my copy").pk)
    assert copy.status == Dataset.Status.HELD and str(twin.pk) in quality_of(copy).similar_to
    web = Client()
    web.force_login(provider)
    seen_by_owner = [
        client_for(provider).get(f"/api/datasets/{copy.pk}/").content.decode(),
        client_for(provider).get("/api/datasets/").content.decode(),
        web.get(f"/datasets/{copy.pk}/").content.decode(),
        web.get("/datasets/mine/").content.decode(),
    ]
    for seen in seen_by_owner:
        assert "near duplicates" in seen or "my copy" in seen
        assert "Quietly Held Twin" not in seen and f"#{twin.pk}" not in seen
    quality = client_for(provider).get(f"/api/datasets/{copy.pk}/").json()["quality"]
    assert str(twin.pk) not in quality["screening"]["similar_to"]
    web.force_login(staff)
    review = web.get("/review/").content.decode()
    assert f"dataset #{twin.pk} “Quietly Held Twin”" in review  # staff see which one


def test_a_screening_given_up_holds_the_upload_with_the_reason(provider, settings):
    from marketplace.tasks import screen_dataset
    from work.models import Unit

    dataset = create(provider, table_csv(60, seed=1))
    assert dataset.status == Dataset.Status.SCREENING
    Unit.objects.filter(task="marketplace.screen_dataset", key=dataset.pk).update(
        attempts=settings.DATAFAIR_WORK["max_attempts"]
    )
    screen_dataset(dataset.pk)
    dataset.refresh_from_db()
    assert dataset.status == Dataset.Status.HELD
    assert "screening could not finish: it gave up after 5 attempts" in dataset.hold_reason


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (OperationalError("the database restarted"), Dataset.Status.SCREENING),
        (ValueError("a corrupt column"), Dataset.Status.HELD),
    ],
    ids=["transient: retried", "a fault: held with the error"],
)
def test_a_transient_error_is_retried_and_any_other_holds_the_upload(
    provider, monkeypatch, error, status
):
    from marketplace.services import screening

    dataset = create(provider, table_csv(40, seed=4))

    def fail(_dataset):
        raise error

    monkeypatch.setattr(screening, "_screen", fail)
    if status == Dataset.Status.SCREENING:
        with pytest.raises(OperationalError):
            screening.dataset_screen(dataset.pk)
    else:
        screening.dataset_screen(dataset.pk)
    dataset.refresh_from_db()
    assert dataset.status == status
    if status == Dataset.Status.HELD:
        assert "screening could not finish (ValueError: a corrupt column)" in dataset.hold_reason
