"""Celery tasks of the valuation app: thin, they take ids and call a service."""

from valuation.services import RUN_CHUNK, chunk_abandon, chunk_run
from work.tasks import durable_task


@durable_task(RUN_CHUNK, give_up=chunk_abandon)
def run_chunk(chunk_id: int) -> None:
    chunk_run(chunk_id=chunk_id)
