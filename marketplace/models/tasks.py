"""Demand: a consumer's prediction task, its held budget, its valuation and its quote."""

from django.conf import settings
from django.db import models


def _task_path(instance: "Task", filename: str) -> str:
    return f"tasks/{instance.consumer_id}/{filename}"


class Task(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        QUOTED = "quoted", "Quoted"
        PURCHASED = "purchased", "Purchased"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    consumer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tasks"
    )
    title = models.CharField(max_length=200, blank=True)
    label_column = models.CharField(max_length=200)
    metric = models.CharField(max_length=30)
    model = models.CharField(max_length=30)
    budget_cents = models.PositiveBigIntegerField()
    value_per_point_cents = models.PositiveBigIntegerField()
    validation_file = models.FileField(upload_to=_task_path)
    baseline_file = models.FileField(upload_to=_task_path, blank=True)
    schema = models.JSONField()
    candidates = models.ManyToManyField("marketplace.Dataset", related_name="tasks")
    status = models.CharField(max_length=10, choices=Status, default=Status.QUEUED)
    held_cents = models.PositiveBigIntegerField(default=0)
    # The payout basis: every candidate row valued as a player of the consumer's game,
    # without reading who owns it (what every cent of the split follows).
    valuation_job = models.OneToOneField(
        "valuation.ValuationJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="task",
    )
    # The bundle table: the consumer's metric for every combination of candidate datasets,
    # to choose which bundle to offer and to draw what each level of spend buys (exact, for
    # up to ten candidates; none beyond). It never decides a share.
    bundle_job = models.OneToOneField(
        "valuation.ValuationJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="bundle_task",
    )
    quote = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title or f"task {self.pk}"
