"""Signals the valuation app sends; the marketplace listens (it depends on us, not back)."""

from django.dispatch import Signal

#: Sent once when a job ends (succeeded, failed or cancelled), after its row is committed.
#: ``sender`` is the ValuationJob class; ``job`` is the job.
job_finished = Signal()
