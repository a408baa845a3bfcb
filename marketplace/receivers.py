"""Connects the marketplace to the signals of the apps it depends on."""

from valuation.signals import job_finished


def connect() -> None:
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_save, pre_save

    from marketplace.services.accounts import ensure_profile, revoke_tokens_on_password_change
    from marketplace.services.tasks import on_job_finished

    job_finished.connect(on_job_finished, dispatch_uid="marketplace.on_job_finished")
    pre_save.connect(
        revoke_tokens_on_password_change,
        sender=get_user_model(),
        dispatch_uid="marketplace.revoke_tokens_on_password_change",
    )
    post_save.connect(
        ensure_profile, sender=get_user_model(), dispatch_uid="marketplace.ensure_profile"
    )
