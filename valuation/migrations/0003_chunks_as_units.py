"""Unfinished chunks become units of background work (work/), which the sweep sends: their
messages may be lost, and the old rule that re-sent them (a worker starting) is gone."""

from django.db import migrations
from django.utils import timezone

UNFINISHED_JOBS = ("pending", "running")


def queue_unfinished_chunks(apps, schema_editor):
    Chunk = apps.get_model("valuation", "ValuationChunk")
    Unit = apps.get_model("work", "Unit")
    now = timezone.now()
    ids = Chunk.objects.filter(
        job__status__in=UNFINISHED_JOBS, status__in=("pending", "running")
    ).values_list("id", flat=True)
    Unit.objects.bulk_create(
        [Unit(task="valuation.run_chunk", key=pk, queued_at=now) for pk in ids.iterator()],
        ignore_conflicts=True,
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [("valuation", "0002_job_notified_at"), ("work", "0001_initial")]

    operations = [
        migrations.RunPython(queue_unfinished_chunks, migrations.RunPython.noop),
        migrations.RemoveField(model_name="valuationchunk", name="attempts"),
    ]
