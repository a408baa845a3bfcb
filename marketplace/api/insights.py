"""The body of a task's insights and of a row offer, field by field.

The insights are the typed report :func:`marketplace.selectors.insights.insight_for` gives a
reader (:class:`~valuation.core.report.InsightReport`, rows they may not see already hidden),
and the offer a :class:`~pricing.row_offer.RowOffer`; these serializers read those objects as
they are and describe them in the schema, so a client knows each field and the contract tests
check every response against it. The engine's sources are datasets here: a row reference's
``player`` is served as ``dataset``.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from marketplace.api.quotes import SettlementOut
from marketplace.services.insights import OWN
from pricing.row_offer import RowOffer
from valuation.core.report import InsightReport, SuspectRemoval


@extend_schema_field(
    {
        "anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}],
        "nullable": True,
        "description": "A label as it is in the data: text, a number or a boolean.",
    }
)
class LabelField(serializers.Field):
    """A class label, written as stored (null when hidden)."""

    def to_representation(self, value):
        return value


class RowRefOut(serializers.Serializer):
    dataset = serializers.IntegerField(
        source="player", allow_null=True, help_text="The dataset id; null: your own rows."
    )
    row = serializers.IntegerField(
        allow_null=True,
        help_text="0-based position in the dataset's file; null until you buy the row.",
    )
    label = LabelField(help_text="The row's label, where the section gives it.")
    value = serializers.FloatField(
        allow_null=True, help_text="What the section measured of the row, if anything."
    )


class RemovalOut(serializers.Serializer):
    score_before = serializers.FloatField(help_text="The metric with every row.")
    score_after = serializers.FloatField(help_text="The metric refitted without these rows.")
    change = serializers.FloatField()
    change_lower = serializers.FloatField(help_text="95% paired-bootstrap interval, lower end.")
    change_upper = serializers.FloatField()
    suggested = serializers.BooleanField(help_text="Whether the interval lies above zero.")


class DatasetRemovalOut(RemovalOut):
    dataset = serializers.IntegerField(source="source")
    title = serializers.CharField(allow_blank=True)
    rows = serializers.IntegerField()


class SuspectsOfOut(serializers.Serializer):
    count = serializers.IntegerField(help_text="Suspect rows of the dataset.")
    rows = serializers.ListField(
        child=serializers.IntegerField(), help_text="Those you may see (0-based positions)."
    )
    hidden = serializers.IntegerField(help_text="Those shown once you buy them.")


class SuspectsOut(RemovalOut):
    count = serializers.IntegerField()
    examined = serializers.IntegerField(help_text="Rows the detectors looked at.")
    training_rows = serializers.IntegerField()
    by_dataset = serializers.SerializerMethodField(
        help_text=f'Dataset id ("{OWN}": your own rows) → its suspect rows.'
    )

    @extend_schema_field(serializers.DictField(child=SuspectsOfOut()))
    def get_by_dataset(self, suspects: SuspectRemoval) -> dict:
        out = {}
        for player, refs in suspects.by_player().items():
            shown = [ref.row for ref in refs if ref.row is not None]
            out[OWN if player is None else str(player)] = {
                "count": len(refs),
                "rows": shown,
                "hidden": len(refs) - len(shown),
            }
        return out


class PruneOut(serializers.Serializer):
    score = serializers.FloatField()
    datasets = DatasetRemovalOut(many=True, source="sources", help_text="Largest change first.")
    rows = SuspectsOut(source="suspects", help_text="The suspect rows of the bundle.")


class MispredictionOut(serializers.Serializer):
    valid_row = serializers.IntegerField(help_text="0-based row of your validation data.")
    label = LabelField()
    predicted = LabelField()
    drivers = RowRefOut(many=True, help_text="Training rows that pulled it away, worst first.")


class DebugOut(serializers.Serializer):
    n_valid = serializers.IntegerField()
    points = MispredictionOut(many=True)
    error = serializers.CharField(allow_blank=True, help_text="Why nothing is explained.")


class FindingOut(serializers.Serializer):
    name = serializers.CharField()
    k = serializers.IntegerField(allow_null=True, help_text="Rows to drop; null: none found.")
    share = serializers.FloatField(allow_null=True)
    refit = serializers.FloatField(allow_null=True, help_text="Measured after refitting.")
    confirmed = serializers.BooleanField(allow_null=True)
    rows = RowRefOut(many=True)


class LossOut(FindingOut):
    original = serializers.FloatField()
    threshold = serializers.FloatField()


class CoefficientOut(FindingOut):
    estimate = serializers.FloatField(help_text="Per standard deviation of the feature.")


class SensitivityOut(serializers.Serializer):
    model = serializers.CharField(allow_blank=True)
    n_rows = serializers.IntegerField()
    loss = LossOut(allow_null=True)
    coefficients = CoefficientOut(many=True, help_text="Most fragile first.")
    error = serializers.CharField(allow_blank=True, help_text="Why there is no analysis.")


class RowSummaryOut(serializers.Serializer):
    dataset = serializers.IntegerField(source="source")
    title = serializers.CharField(allow_blank=True)
    rows = serializers.IntegerField()
    positive_rows = serializers.IntegerField()
    value_sum = serializers.FloatField(help_text="Sum of its rows' KNN-Shapley values.")


class RowValuesOut(serializers.Serializer):
    k = serializers.IntegerField()
    by_dataset = RowSummaryOut(many=True, source="by_source")


class ReportOut(serializers.Serializer):
    version = serializers.IntegerField(
        source="VERSION",
        help_text=f"The layout of this object; this server writes version {InsightReport.VERSION}.",
    )
    metric = serializers.CharField(allow_null=True)
    suspect_share = serializers.FloatField()
    looked_at = serializers.ListField(
        child=serializers.IntegerField(), help_text="Datasets debug and sensitivity looked at."
    )
    prune = PruneOut(help_text="Datasets and suspect rows to drop, each measured by refit.")
    debug = DebugOut(help_text="The training rows behind each wrong prediction.")
    sensitivity = SensitivityOut(help_text="Rows to drop to overturn a conclusion.")
    rows = RowValuesOut(help_text="What each dataset's rows are worth.")


class RowOfferOut(serializers.Serializer):
    version = serializers.IntegerField(
        source="VERSION",
        help_text=f"The layout of this object; this server writes version {RowOffer.VERSION}.",
    )
    budget_cents = serializers.IntegerField()
    rows = serializers.DictField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="Dataset id → the offered rows (0-based positions in its file).",
    )
    value = serializers.FloatField(help_text="Sum of the rows' KNN-Shapley values.")
    price_cents = serializers.IntegerField(help_text="Sum of the rows' prices: the charge.")
    row_cents = serializers.DictField(
        child=serializers.IntegerField(), help_text="Dataset id → what its rows cost."
    )
    settlement = SettlementOut(
        allow_null=True, help_text="Fee and payouts, exact to the cent (null: no row fits)."
    )
    key = serializers.CharField(help_text="Names this offer; pass it as `offer` to buy it.")


class InsightOut(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["none", "pending", "ready", "failed"],
        help_text="Insights are computed by a worker after the quote.",
    )
    report = ReportOut(
        allow_null=True,
        help_text="Rows of datasets you have not bought show their dataset only.",
    )
    row_offer = RowOfferOut(allow_null=True, help_text="The latest row-level offer.")
    error = serializers.CharField(help_text="Why the insights failed, if they did.")
