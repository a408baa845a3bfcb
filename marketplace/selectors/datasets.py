"""Which datasets a user may see and download."""

from __future__ import annotations

import dataclasses

from django.db.models import Q, QuerySet

from marketplace.models import Dataset, Entitlement
from marketplace.quality import DatasetQuality


def dataset_visible(*, user) -> QuerySet[Dataset]:
    """Published datasets, and the user's own whatever their status."""
    return Dataset.objects.filter(
        Q(status=Dataset.Status.PUBLISHED) | Q(owner=user)
    ).select_related("owner")


def dataset_quality_for(*, user, dataset: Dataset) -> DatasetQuality | None:
    """What ``user`` may read of a dataset's quality document: its owner reads it, with the
    datasets it was measured against named only where the owner may see them (another
    provider's held upload must not be revealed); anyone else reads nothing."""
    if dataset.owner_id != user.pk:
        return None
    quality = DatasetQuality.from_dict(dataset.quality)
    screening = quality.screening
    if screening is None or not screening.similar_to:
        return quality
    named = {
        str(pk)
        for pk in dataset_visible(user=user)
        .filter(pk__in=[int(pk) for pk in screening.similar_to])
        .values_list("pk", flat=True)
    }
    similar_to = {pk: sm for pk, sm in screening.similar_to.items() if pk in named}
    return dataclasses.replace(
        quality, screening=dataclasses.replace(screening, similar_to=similar_to)
    )


def dataset_entitlement(*, user, dataset: Dataset) -> Entitlement | None:
    return Entitlement.objects.filter(user=user, dataset=dataset).order_by("id").first()


def dataset_can_download(*, user, dataset: Dataset) -> bool:
    return (
        dataset.owner_id == user.pk or dataset_entitlement(user=user, dataset=dataset) is not None
    )


#: Orderings a browser may ask for (the API offers the same fields).
DATASET_ORDERINGS = (
    "-created_at",
    "reserve_price_cents",
    "-reserve_price_cents",
    "-n_rows",
    "-sales_count",
    "title",
)


def dataset_browse(
    *,
    user,
    search: str = "",
    label_column: str = "",
    task_type: str = "",
    min_rows: int | None = None,
    max_reserve_cents: int | None = None,
    ordering: str = "-created_at",
) -> QuerySet[Dataset]:
    """Visible datasets matching a catalogue search; empty criteria do not filter."""
    if ordering not in DATASET_ORDERINGS:
        raise ValueError(f"ordering must be one of {', '.join(DATASET_ORDERINGS)}")
    datasets = dataset_visible(user=user)
    if search:
        datasets = datasets.filter(
            Q(title__icontains=search)
            | Q(description__icontains=search)
            | Q(label_column__icontains=search)
        )
    if label_column:
        datasets = datasets.filter(label_column=label_column)
    if task_type:
        datasets = datasets.filter(task_type=task_type)
    if min_rows is not None:
        datasets = datasets.filter(n_rows__gte=min_rows)
    if max_reserve_cents is not None:
        datasets = datasets.filter(reserve_price_cents__lte=max_reserve_cents)
    return datasets.order_by(ordering, "-id")


def dataset_label_columns(*, user) -> list[str]:
    """Distinct label columns among the datasets a user can see, alphabetically."""
    return sorted(set(dataset_visible(user=user).values_list("label_column", flat=True)))


def dataset_owned(*, user) -> QuerySet[Dataset]:
    """A provider's own datasets, whatever their status, newest first."""
    return Dataset.objects.filter(owner=user).order_by("-created_at", "-id")


def dataset_for_sale(*, user) -> QuerySet[Dataset]:
    """Published datasets of other providers: what a user's task may value and buy."""
    return (
        Dataset.objects.filter(status=Dataset.Status.PUBLISHED)
        .exclude(owner=user)
        .select_related("owner")
        .order_by("title", "id")
    )
