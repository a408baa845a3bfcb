"""Running a valuation job's chunks in this process, as workers would."""

from valuation.models import ValuationChunk, ValuationJob
from valuation.services import chunk_run


def run_job(job: ValuationJob) -> ValuationJob:
    """Run pending chunks in order until the job has none left to run."""
    ran: set[int] = set()
    while True:
        pending = job.chunks.filter(status=ValuationChunk.Status.PENDING).exclude(pk__in=ran)
        if not pending.exists():
            break
        for chunk in pending.order_by("index"):
            ran.add(chunk.pk)
            chunk_run(chunk_id=chunk.pk)
    job.refresh_from_db()
    return job


def run_task(task):
    """Run every valuation job of a task (the payout basis and the bundle table), then its
    quote, as workers would; returns the task as that left it."""
    from marketplace.services.tasks import task_jobs, task_quote_run

    for job in task_jobs(task):
        run_job(job)
    task_quote_run(task.pk)
    task.refresh_from_db()
    return task
