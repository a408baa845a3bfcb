"""The body of a dataset's quality document, field by field.

The document is the typed :class:`~marketplace.quality.DatasetQuality`
:func:`marketplace.selectors.datasets.dataset_quality_for` gives its owner (the datasets it
was measured against already narrowed to those the owner may see); these serializers read it
as it is and describe it in the schema, so a client knows each field and the contract tests
check every response against it.
"""

from rest_framework import serializers

from marketplace.api.insights import LabelField
from marketplace.quality import DatasetQuality


class LabelFlipsOut(serializers.Serializer):
    reference = serializers.CharField(
        help_text='What judged the upload: "other providers", "cross-fitted" (its halves '
        'each other) or "none" (skipped).'
    )
    flagged_rows = serializers.IntegerField(
        allow_null=True, help_text="Rows the screen valued lowest; null when skipped."
    )
    change_points = serializers.FloatField(
        allow_null=True,
        help_text="Change of a k-NN probe's accuracy without them, in points; null when skipped.",
    )
    p_value = serializers.FloatField(
        allow_null=True, help_text="One-sided sign test of that change; null when skipped."
    )
    skipped = serializers.CharField(
        allow_blank=True, help_text="Why the screen was skipped; empty when it ran."
    )


class TriggerOut(serializers.Serializer):
    column = serializers.CharField(help_text="The feature whose value the rows share.")
    value = serializers.FloatField()
    z = serializers.FloatField(help_text="Robust z-score of the value against the reference.")
    rows = serializers.IntegerField(help_text="Flagged rows with the value.")
    label = LabelField(help_text="The label most of them carry.")
    label_share = serializers.FloatField(help_text="The share of them that carry it.")


class ScreeningOut(serializers.Serializer):
    similar_to = serializers.DictField(
        child=serializers.FloatField(),
        help_text="Dataset id → similarity (the share of near-duplicated rows), for the "
        "datasets you may see.",
    )
    label_flips = LabelFlipsOut(
        allow_null=True, help_text="The label-flip screen; null for a regression upload."
    )
    trigger = TriggerOut(
        allow_null=True, help_text="A likely backdoor trigger; null when none was found."
    )


class MeasuredRemovalOut(serializers.Serializer):
    kind = serializers.CharField(help_text='"suspects", "duplicates", "outliers" or "all".')
    rows = serializers.ListField(child=serializers.IntegerField(), help_text="0-based rows.")
    score_before = serializers.FloatField(help_text="The metric with every row.")
    score_after = serializers.FloatField(help_text="The metric refitted without these rows.")
    change = serializers.FloatField(help_text="score_after − score_before.")


class IntrinsicReportOut(serializers.Serializer):
    n_rows = serializers.IntegerField(help_text="Rows reported on (a sample of a large file).")
    scorer = serializers.CharField()
    suspects = serializers.ListField(
        child=serializers.DictField(child=serializers.FloatField()),
        help_text="Lowest-valued rows first: each its row, fold, consensus and every "
        "detector's score by name (knn-shapley, data-oob, lava).",
    )
    duplicates = serializers.ListField(child=serializers.IntegerField())
    label_conflicts = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="Groups of rows with the same features and different labels.",
    )
    outliers = serializers.ListField(child=serializers.IntegerField())
    removals = MeasuredRemovalOut(many=True, help_text="Each kind of row removed, by refit.")


class DatasetQualityOut(serializers.Serializer):
    version = serializers.IntegerField(
        source="VERSION",
        help_text="The layout of this object; this server writes version "
        f"{DatasetQuality.VERSION}.",
    )
    duplicate_rows_within_file = serializers.IntegerField()
    overlap_with_other_providers = serializers.FloatField(
        help_text="The largest share of its distinct rows also in one other provider's dataset."
    )
    screening = ScreeningOut(
        allow_null=True, help_text="What the screens measured; null until screened."
    )
    report = IntrinsicReportOut(
        allow_null=True,
        help_text="The quality report on your file alone; null until screened.",
    )
