"""One row per unit of background work: its state, its lease and how often it was tried."""

from django.db import models


class Unit(models.Model):
    """The Celery task ``task`` over the row ``key`` (its one argument).

    ``queued`` with ``sent_at`` empty is the outbox: committed, not yet announced to the
    broker. ``running`` holds a lease until ``lease_until``, which the worker's heartbeat
    keeps ahead while ``holder`` (host and process id) works on it.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    task = models.CharField(max_length=100)
    key = models.BigIntegerField()
    state = models.CharField(max_length=10, choices=State, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    holder = models.CharField(max_length=200, blank=True)
    queued_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "key"], name="unit_per_task_key")]
        indexes = [models.Index(fields=["state", "task"], name="unit_state")]

    def __str__(self) -> str:
        return f"{self.task}({self.key}) {self.state}"
