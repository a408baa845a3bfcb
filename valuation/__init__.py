"""Data valuation: the pure engine in ``valuation.core`` and the Django app that runs it on
Celery workers (jobs, chunks, progress)."""
