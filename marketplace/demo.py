"""A small, realistic market built from scikit-learn's breast-cancer data, for the demo.

Providers: two honest clinics, a lab with almost half its labels wrong, a vendor whose
features are noise (shuffled across rows), and a copycat who re-uploads a clinic's file
(held for review at upload). Each upload is screened by the worker before the next one is
made, so every screen judges it against the same earlier uploads on every run; the lab or
the vendor may be held by a screen, each with the measured number that held it. The
consumer brings a validation set and a budget.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from sklearn.datasets import load_breast_cancer

from marketplace.models import Dataset, Task
from marketplace.services.accounts import user_register
from marketplace.services.datasets import dataset_create
from marketplace.services.tasks import task_submit
from marketplace.services.wallet import wallet_deposit

PASSWORD = "datafair-demo-password"
LABEL = "diagnosis"
SCREENING_TIMEOUT = 300


@dataclass(frozen=True)
class Listing:
    username: str
    title: str
    description: str
    reserve_cents: int


LISTINGS = [
    Listing("clinic-north", "Clinic North biopsies", "120 reviewed cases, two pathologists.", 500),
    Listing("clinic-south", "Clinic South biopsies", "120 cases from a regional hospital.", 300),
    Listing("noisy-labs", "Noisy Labs screening", "120 cases, labels from a fast triage.", 0),
    Listing("noise-vendor", "Bulk measurements", "120 cases, instrument not calibrated.", 0),
    Listing("copycat", "Premium biopsy set", "Definitely our own data.", 0),
]


def _frames() -> dict[str, pd.DataFrame]:
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns={"target": LABEL})
    frame[LABEL] = np.where(frame[LABEL] == 1, "benign", "malignant")
    frame = frame.sample(frac=1.0, random_state=7).reset_index(drop=True)
    rng = np.random.default_rng(7)
    parts = {
        "clinic-north": frame.iloc[0:120].copy(),
        "clinic-south": frame.iloc[120:240].copy(),
        "noisy-labs": frame.iloc[240:360].copy(),
        "noise-vendor": frame.iloc[360:480].copy(),
    }
    flip = rng.random(120) < 0.45
    labels = parts["noisy-labs"][LABEL]
    parts["noisy-labs"][LABEL] = np.where(
        flip, np.where(labels == "benign", "malignant", "benign"), labels
    )
    features = [c for c in frame.columns if c != LABEL]
    noise = parts["noise-vendor"]
    noise[features] = rng.permuted(noise[features].to_numpy(), axis=0)
    parts["copycat"] = parts["clinic-north"]
    parts["validation"] = frame.iloc[480:569].copy()
    return parts


def _csv(frame: pd.DataFrame, name: str) -> SimpleUploadedFile:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return SimpleUploadedFile(name, buffer.getvalue().encode(), content_type="text/csv")


def _user(username: str, role: str):
    User = get_user_model()
    existing = User.objects.filter(username=username).first()
    return existing or user_register(username=username, password=PASSWORD, roles=[role])


def demo_market() -> tuple[list[Dataset], object]:
    """Create the demo's providers and datasets once; return them and the consumer."""
    frames = _frames()
    datasets = []
    for listing in LISTINGS:
        owner = _user(listing.username, "provider")
        dataset = Dataset.objects.filter(owner=owner, title=listing.title).first()
        if dataset is None:
            dataset = dataset_create(
                owner=owner,
                upload=_csv(frames[listing.username], f"{listing.username}.csv"),
                title=listing.title,
                description=listing.description,
                license="CC-BY-4.0",
                label_column=LABEL,
                reserve_price_cents=listing.reserve_cents,
            )
        datasets.append(_screened(dataset))
    consumer = _user("hospital-ai", "consumer")
    return datasets, consumer


def _screened(dataset: Dataset) -> Dataset:
    """Wait until the worker has screened ``dataset`` (published or held)."""
    deadline = time.monotonic() + SCREENING_TIMEOUT
    while dataset.status == Dataset.Status.SCREENING:
        if time.monotonic() > deadline:
            raise TimeoutError(f"dataset {dataset.pk} was not screened in {SCREENING_TIMEOUT} s")
        time.sleep(0.3)
        dataset.refresh_from_db()
    return dataset


def demo_task(consumer) -> Task:
    """Top the consumer's wallet up and submit the demo task."""
    frames = _frames()
    wallet_deposit(user=consumer, amount_cents=50_000)
    return task_submit(
        consumer=consumer,
        title="Tumour classifier for the screening clinic",
        validation_file=_csv(frames["validation"], "validation.csv"),
        label_column=LABEL,
        metric="accuracy",
        model="logistic_regression",
        budget_cents=30_000,
        value_per_point_cents=500,
    )
