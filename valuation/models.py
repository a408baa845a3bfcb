"""A valuation job and its chunks, persisted before anything is enqueued.

A job describes what to value (``spec``, a :class:`~valuation.spec.JobSpec`: where the data
is, the label, model, metric, seed) without knowing who asked: the marketplace links its
task to the job, never the other way round. Each chunk is one unit of Celery work over a
range of the method's samples (or coalitions); its partial result is stored when it
finishes, so a lost worker loses at most one chunk and a re-delivered chunk that is already
done is a no-op.
"""

from django.db import models

from valuation.spec import JobSpec


class SpecField(models.JSONField):
    """A :class:`~valuation.spec.JobSpec`, stored as its ``to_dict`` (JSON)."""

    def from_db_value(self, value, expression, connection):
        value = super().from_db_value(value, expression, connection)
        return None if value is None else JobSpec.from_dict(value)

    def to_python(self, value):
        if value is None or isinstance(value, JobSpec):
            return value
        return JobSpec.from_dict(super().to_python(value))

    def get_prep_value(self, value):
        if isinstance(value, JobSpec):
            value = value.to_dict()
        return super().get_prep_value(value)


class ValuationJob(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    method = models.CharField(max_length=40)
    spec = SpecField()
    seed = models.BigIntegerField()
    player_names = models.JSONField(default=list)
    units_done = models.PositiveBigIntegerField(default=0)
    units_planned = models.PositiveBigIntegerField(default=0)
    progress = models.FloatField(default=0.0)
    eta_seconds = models.FloatField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    utilities = models.JSONField(null=True, blank=True)
    n_utility_evaluations = models.PositiveBigIntegerField(default=0)
    code_version = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set once every job_finished receiver has returned; a finished job without it is
    # announced again by the next delivery of any of its chunks (a worker may die between
    # finishing the job and the receivers' work).
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.method} job {self.pk} ({self.status})"


class ValuationChunk(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    job = models.ForeignKey(ValuationJob, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    start = models.PositiveBigIntegerField()
    stop = models.PositiveBigIntegerField()
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    partial = models.JSONField(null=True, blank=True)
    n_utility_evaluations = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="chunk_index_unique_per_job")
        ]

    def __str__(self) -> str:
        return f"chunk {self.index} of job {self.job_id} ({self.status})"
