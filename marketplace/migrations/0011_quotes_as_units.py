"""Quoting became its own unit of background work (marketplace.quote_task). A task whose
valuation succeeded but whose quote was not stored (its worker died while pricing) is
queued for a quote, which the sweep sends."""

from django.db import migrations
from django.utils import timezone


def queue_unquoted(apps, schema_editor):
    Task = apps.get_model("marketplace", "Task")
    Unit = apps.get_model("work", "Unit")
    waiting = Task.objects.filter(
        status__in=("queued", "running"), valuation_job__status="succeeded"
    ).exclude(bundle_job__status__in=("pending", "running", "failed", "cancelled"))
    now = timezone.now()
    Unit.objects.bulk_create(
        [
            Unit(task="marketplace.quote_task", key=pk, queued_at=now)
            for pk in waiting.values_list("id", flat=True)
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0010_screening_and_insights_as_units"),
        ("valuation", "0003_chunks_as_units"),
        ("work", "0001_initial"),
    ]

    operations = [migrations.RunPython(queue_unquoted, migrations.RunPython.noop)]
