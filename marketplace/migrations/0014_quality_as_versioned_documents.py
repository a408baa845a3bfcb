"""Dataset quality documents stored untyped (version 1) become version 2: the documents of
``marketplace.quality.DatasetQuality``.

A version-1 document was one flat dict: the upload's ``duplicate_rows_within_file`` and
``overlap_with_other_providers``, then, once screened, the screens' numbers merged in beside
them (``similar_to``; ``label_flips`` and ``trigger`` for a classification upload) and the
provider's ``report``. Version 2 keeps the upload's numbers, gathers the screens' under
``screening`` (null when nothing was screened: a screening that could not finish recorded no
number) and keeps ``report`` (null until screened) in the layout it had. A label-flip screen
that was skipped had only ``reference`` and ``skipped``, one that ran no ``skipped``: version 2
writes every field (null measurements, an empty ``skipped``). Going back undoes each step.
This is the one place that reads version 1.
"""

from django.db import migrations

VERSION = 2
UPLOAD_KEYS = ("duplicate_rows_within_file", "overlap_with_other_providers")
SCREENING_KEYS = ("similar_to", "label_flips", "trigger")
#: A label-flip screen's fields beside ``reference``, as version 2 writes them when unset.
LABEL_FLIPS_UNSET = {"flagged_rows": None, "change_points": None, "p_value": None, "skipped": ""}


def quality_forward(quality: dict) -> dict:
    screened = any(key in quality for key in SCREENING_KEYS)
    flips = quality.get("label_flips")
    screening = {
        "similar_to": quality.get("similar_to", {}),
        "label_flips": None if flips is None else {**LABEL_FLIPS_UNSET, **flips},
        "trigger": quality.get("trigger"),
    }
    return {
        "version": VERSION,
        "duplicate_rows_within_file": quality.get("duplicate_rows_within_file", 0),
        "overlap_with_other_providers": quality.get("overlap_with_other_providers", 0.0),
        "screening": screening if screened else None,
        "report": quality.get("report"),
    }


def quality_backward(quality: dict) -> dict:
    out = {key: quality[key] for key in UPLOAD_KEYS}
    screening = quality["screening"]
    if screening is not None:
        out["similar_to"] = screening["similar_to"]
        flips = screening["label_flips"]
        if flips is not None:
            out["label_flips"] = {
                key: value
                for key, value in flips.items()
                if key not in LABEL_FLIPS_UNSET or value != LABEL_FLIPS_UNSET[key]
            }
            # A classification upload's trigger was written, found or not (null).
            out["trigger"] = screening["trigger"]
    if quality["report"] is not None:
        out["report"] = quality["report"]
    return out


def _migrate(apps, convert, stored_version):
    Dataset = apps.get_model("marketplace", "Dataset")
    for dataset in Dataset.objects.only("quality").iterator(chunk_size=200):
        if dataset.quality.get("version", 1) == stored_version:
            Dataset.objects.filter(pk=dataset.pk).update(quality=convert(dataset.quality))


def forward(apps, schema_editor):
    _migrate(apps, quality_forward, 1)


def backward(apps, schema_editor):
    _migrate(apps, quality_backward, VERSION)


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0013_insights_as_versioned_documents")]

    operations = [migrations.RunPython(forward, backward)]
