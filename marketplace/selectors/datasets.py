"""Which datasets a user may see and download."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from marketplace.models import Dataset, Entitlement


def dataset_visible(*, user) -> QuerySet[Dataset]:
    """Published datasets, and the user's own whatever their status."""
    return Dataset.objects.filter(
        Q(status=Dataset.Status.PUBLISHED) | Q(owner=user)
    ).select_related("owner")


def dataset_entitlement(*, user, dataset: Dataset) -> Entitlement | None:
    return Entitlement.objects.filter(user=user, dataset=dataset).order_by("id").first()


def dataset_can_download(*, user, dataset: Dataset) -> bool:
    return (
        dataset.owner_id == user.pk or dataset_entitlement(user=user, dataset=dataset) is not None
    )
