"""Celery tasks of the marketplace: thin, they take ids and call a service, and a re-run on
finished work is a no-op (so a redelivered or re-sent message is harmless)."""

from marketplace.services.insights import COMPUTE_INSIGHTS, insight_abandon, insight_run
from marketplace.services.screening import SCREEN_DATASET, dataset_screen, screening_abandon
from marketplace.services.tasks import QUOTE_TASK, quote_abandon, task_quote_run
from work.tasks import durable_task


@durable_task(COMPUTE_INSIGHTS, give_up=insight_abandon)
def compute_insights(task_id: int) -> None:
    insight_run(task_id)


@durable_task(SCREEN_DATASET, give_up=screening_abandon)
def screen_dataset(dataset_id: int) -> None:
    dataset_screen(dataset_id)


@durable_task(QUOTE_TASK, give_up=quote_abandon)
def quote_task(task_id: int) -> None:
    task_quote_run(task_id)
