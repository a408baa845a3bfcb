"""What valuation tells each side beyond the price: a task's insights for its consumer,
the per-task quality signals behind a provider's report, and a consumer's annotation pools.

Insights are computed by a worker after a task is quoted and stored as JSON; what a person
may see of them (rows of datasets they have not bought stay hidden) is decided when they
are read, not when they are stored.
"""

from django.conf import settings
from django.db import models


def _insight_path(instance: "TaskInsight", filename: str) -> str:
    return f"insights/{instance.task_id}/{filename}"


def _pool_path(instance: "LabelPool", filename: str) -> str:
    return f"pools/{instance.consumer_id}/{filename}"


class TaskInsight(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    task = models.OneToOneField(
        "marketplace.Task", on_delete=models.CASCADE, related_name="insight"
    )
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    #: A ``valuation.core.report.InsightReport.to_dict`` (versioned; empty until ready).
    report = models.JSONField(default=dict)
    #: Per-row values of every candidate row (``.npz``), the basis of row-level offers.
    row_values_file = models.FileField(upload_to=_insight_path, blank=True)
    #: The latest row-level offer made to the consumer (what a row purchase buys): a
    #: ``pricing.row_offer.RowOffer.to_dict`` (versioned).
    row_offer = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"insights of task {self.task_id} ({self.status})"


class QualitySignal(models.Model):
    """What one task's valuation said about one candidate dataset's rows.

    A provider never sees a signal on its own: reports aggregate them across the tasks of
    several consumers (``DATAFAIR_QUALITY_MIN_CONSUMERS``).
    """

    dataset = models.ForeignKey(
        "marketplace.Dataset", on_delete=models.CASCADE, related_name="quality_signals"
    )
    task = models.ForeignKey(
        "marketplace.Task", on_delete=models.CASCADE, related_name="quality_signals"
    )
    #: Rows (0-based) among the dataset's lowest-valued on this task, ascending.
    suspects = models.JSONField(default=list)
    score_before = models.FloatField()
    score_after = models.FloatField()
    metric = models.CharField(max_length=30)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dataset", "task"], name="quality_signal_once")
        ]

    def __str__(self) -> str:
        return f"dataset {self.dataset_id} on task {self.task_id}"


class LabelPool(models.Model):
    """A consumer's unlabeled rows, ranked for annotation in batches (active learning)."""

    class Strategy(models.TextChoices):
        VALUE = "value", "Predicted value and uncertainty"
        UNCERTAINTY = "uncertainty", "Uncertainty"
        RANDOM = "random", "Random order"

    task = models.ForeignKey("marketplace.Task", on_delete=models.CASCADE, related_name="pools")
    consumer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="label_pools"
    )
    title = models.CharField(max_length=200, blank=True)
    pool_file = models.FileField(upload_to=_pool_path)
    n_rows = models.PositiveIntegerField()
    strategy = models.CharField(max_length=12, choices=Strategy, default=Strategy.VALUE)
    batch_size = models.PositiveIntegerField(default=10)
    #: Labels given so far: ``{"<row>": label}`` (rows are 0-based positions in the pool).
    labels = models.JSONField(default=dict)
    #: Unlabeled rows, first to annotate first, and the score behind each.
    ranking = models.JSONField(default=list)
    #: The strategy the ranking was made with: ``random`` while value or uncertainty have
    #: fewer than two labeled classes to learn from.
    ranked_by = models.CharField(max_length=12, choices=Strategy, blank=True)
    scores = models.JSONField(default=list)
    rounds = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title or f"pool {self.pk}"
