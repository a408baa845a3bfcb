"""Connects the marketplace to the signals of the apps it depends on."""

from valuation.signals import job_finished


def connect() -> None:
    from marketplace.services.tasks import on_job_finished

    job_finished.connect(on_job_finished, dispatch_uid="marketplace.on_job_finished")
