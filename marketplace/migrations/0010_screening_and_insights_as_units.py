"""Screenings and insights still to compute become units of background work (work/), which
the sweep sends: before, a message lost with the broker left them waiting for ever."""

from django.db import migrations
from django.utils import timezone


def queue_unfinished(apps, schema_editor):
    Dataset = apps.get_model("marketplace", "Dataset")
    TaskInsight = apps.get_model("marketplace", "TaskInsight")
    Unit = apps.get_model("work", "Unit")
    now = timezone.now()
    work = [
        ("marketplace.screen_dataset", pk)
        for pk in Dataset.objects.filter(status="screening").values_list("id", flat=True)
    ] + [
        ("marketplace.compute_insights", pk)
        for pk in TaskInsight.objects.filter(status="pending").values_list("task_id", flat=True)
    ]
    Unit.objects.bulk_create(
        [Unit(task=task, key=key, queued_at=now) for task, key in work],
        ignore_conflicts=True,
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0009_profiles_for_every_account"), ("work", "0001_initial")]

    operations = [migrations.RunPython(queue_unfinished, migrations.RunPython.noop)]
