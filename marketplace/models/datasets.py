"""Supply: a provider's dataset, its typed schema, its columnar copy and its row fingerprints."""

from django.conf import settings
from django.db import models


def _upload_path(instance: "Dataset", filename: str) -> str:
    return f"datasets/{instance.owner_id}/{filename}"


class Dataset(models.Model):
    class Preview(models.TextChoices):
        NONE = "none", "No preview"
        HEAD = "head", "First rows"
        SAMPLE = "sample", "Random sample"

    class Status(models.TextChoices):
        SCREENING = "screening", "Being screened"
        PUBLISHED = "published", "Published"
        HELD = "held", "Held for review"
        REJECTED = "rejected", "Rejected"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="datasets"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    license = models.CharField(max_length=100)
    label_column = models.CharField(max_length=200)
    reserve_price_cents = models.PositiveBigIntegerField(default=0)
    preview_policy = models.CharField(max_length=10, choices=Preview, default=Preview.HEAD)
    status = models.CharField(max_length=10, choices=Status, default=Status.PUBLISHED)
    hold_reason = models.TextField(blank=True)

    original_name = models.CharField(max_length=255)
    original_file = models.FileField(upload_to=_upload_path)
    columnar_file = models.FileField(upload_to=_upload_path)
    content_sha256 = models.CharField(max_length=64, db_index=True)
    schema = models.JSONField()
    n_rows = models.PositiveIntegerField()
    n_columns = models.PositiveIntegerField()
    task_type = models.CharField(max_length=20)
    preview = models.JSONField(default=list)
    #: A ``marketplace.quality.DatasetQuality.to_dict`` (versioned), written at upload and
    #: completed by the screening; read through ``DatasetQuality.from_dict``.
    quality = models.JSONField(default=dict)
    #: Rows per text column that a spreadsheet would run as a formula (``=HYPERLINK(...)``),
    #: found at upload and shown to buyers, who may download those cells neutralised.
    formula_cells = models.JSONField(default=dict)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sales_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class RowHash(models.Model):
    """One row fingerprint of a dataset (64-bit, stored signed), indexed for duplicate search.

    No foreign-key constraint in the database: PostgreSQL checks one per row at commit,
    3 of the 10 seconds of a million-row upload. The rows are written only in the
    transaction that creates their dataset (:func:`marketplace.services.rowhashes.store`)
    and deleted with it (Django cascades ``on_delete``), and the overlap search joins the
    datasets, so a hash without its dataset could never count.
    """

    dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="row_hashes", db_constraint=False
    )
    value = models.BigIntegerField()

    class Meta:
        # One index serves both the uniqueness and the look-up by value (value first): each
        # index more costs every upload a write per row.
        constraints = [
            models.UniqueConstraint(fields=["value", "dataset"], name="rowhash_unique_per_dataset")
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}:{self.value:x}"
