"""Quotes stored as version 1 — the explanation a list of sentences — become version 2: each
sentence a keyed line (kind, provider, heading, text, numbers; see pricing/explanation.py).

This is the one place that reads the old sentences, once, to key them. The numbers of a
migrated line are left empty (they stay in its text and in the quote's own fields); a sentence
that fits no known line is kept as a ``note``. Tasks and orders (which keep a copy of the quote
they bought) are both migrated. Going back turns lines into sentences again.
"""

import re

from django.db import migrations

GENERAL = {
    "Not offered": "not_offered",
    "Bundle": "bundle",
    "Lift": "lift",
    "Worth": "worth",
    "Price": "price",
    "Platform fee": "fee",
    "Provider pool": "pool",
    "Split": "split",
    "Check": "check",
    "No sale": "no_sale",
}
PENALTY = "Withheld by the replication penalty"
# Version 1 named a provider "Title (#id)", and before titles by its bare id.
WHO = r"(?P<who>.* \(#(?P<pid>\d+)\)|(?P<bare>\d+))"
LEFT_OUT = re.compile(rf"^Left out {WHO}: (?P<text>.*)$", re.S)
PROVIDER = re.compile(rf"^{WHO}: (?P<text>.*)$", re.S)


def line_of(sentence: str) -> dict:
    def keyed(kind, heading, text, provider=None):
        return {"kind": kind, "provider": provider, "heading": heading, "text": text, "numbers": {}}

    # Providers first: a title may begin like a general line ("Lift (#2): share …").
    if match := LEFT_OUT.match(sentence):
        pid = match["pid"] or match["bare"]
        return keyed("left_out", f"Left out {match['who']}", match["text"], pid)
    if match := PROVIDER.match(sentence):
        return keyed("provider", match["who"], match["text"], match["pid"] or match["bare"])
    heading, _, text = sentence.partition(": ")
    if heading == PENALTY:
        return keyed("refund" if "refunded to you" in text else "withheld", heading, text)
    if heading in GENERAL:
        return keyed(GENERAL[heading], heading, text)
    return keyed("note", "Note", sentence)


def sentences_of(line: dict) -> str:
    return line["text"] if line["kind"] == "note" else f"{line['heading']}: {line['text']}"


def _migrate(apps, convert, version):
    for model in ("Task", "Order"):
        Model = apps.get_model("marketplace", model)
        for row in Model.objects.exclude(quote=None).iterator(chunk_size=500):
            offer = row.quote.get("offer") if isinstance(row.quote, dict) else None
            if not offer or offer.get("version", 1) == version:
                continue
            offer["explanation"] = [convert(item) for item in offer["explanation"]]
            offer["version"] = version
            Model.objects.filter(pk=row.pk).update(quote=row.quote)


def forward(apps, schema_editor):
    _migrate(apps, line_of, 2)


def backward(apps, schema_editor):
    _migrate(apps, sentences_of, 1)


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0011_quotes_as_units")]

    operations = [migrations.RunPython(forward, backward)]
