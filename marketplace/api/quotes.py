"""The body of a task's quote (``Task.quote``, copied into an order), field by field.

The quote is stored as the JSON document :func:`marketplace.services.tasks.task_quote`
writes; these serializers read it as it is and describe it in the schema, so a client knows
each field and the contract tests check every response against it.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from pricing.explanation import KINDS
from pricing.quote import BASES, QUOTE_VERSION
from pricing.settlement import PENALTY_DESTINATIONS
from pricing.shares import BELOW_RESERVE, HARMFUL, NO_CONTRIBUTION

#: Why a candidate is not in the offer ("" when it is).
EXCLUSIONS = [HARMFUL, NO_CONTRIBUTION, BELOW_RESERVE, "not_in_best_bundle"]


@extend_schema_field(OpenApiTypes.NUMBER)
class NumberField(serializers.Field):
    """An int or a float, written as stored (cents stay integers)."""

    def to_representation(self, value):
        return value


class LineOut(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=list(KINDS),
        help_text="What the line explains: "
        + "; ".join(f"{kind}: {what}" for kind, what in KINDS.items()),
    )
    provider = serializers.CharField(
        allow_null=True, help_text="The dataset id the line is about (left_out and provider)."
    )
    heading = serializers.CharField()
    text = serializers.CharField(help_text='The sentence is heading + ": " + text.')
    numbers = serializers.DictField(
        child=NumberField(), help_text="The numbers the line quotes, by name."
    )


class LiftOut(serializers.Serializer):
    estimate = serializers.FloatField(help_text="Lift in metric units (0.01 is one point).")
    lower = serializers.FloatField(help_text="Lower end of the interval: what is paid for.")
    upper = serializers.FloatField()
    confidence = serializers.FloatField()


class SettlementOut(serializers.Serializer):
    charge_cents = serializers.IntegerField()
    fee_bps = serializers.IntegerField()
    fee_cents = serializers.IntegerField()
    payouts = serializers.DictField(
        child=serializers.IntegerField(), help_text="Cents per dataset id."
    )
    withheld_cents = serializers.IntegerField()
    refund_cents = serializers.IntegerField()
    penalty_destination = serializers.ChoiceField(choices=list(PENALTY_DESTINATIONS))


class OfferOut(serializers.Serializer):
    version = serializers.IntegerField(
        help_text=f"The layout of this object; this server writes version {QUOTE_VERSION}."
    )
    policy = serializers.CharField()
    sale = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True, help_text="Why there is no sale.")
    bundle = serializers.ListField(child=serializers.CharField(), help_text="Dataset ids.")
    lift = LiftOut(allow_null=True)
    budget_cents = serializers.IntegerField()
    cents_per_point = serializers.IntegerField()
    fee_bps = serializers.IntegerField()
    value_cents = serializers.IntegerField(help_text="Worth of the confident lift.")
    settlement = SettlementOut()
    shares = serializers.DictField(
        child=serializers.CharField(), help_text='Exact shares, "numerator/denominator".'
    )
    excluded = serializers.DictField(child=serializers.ChoiceField(choices=EXCLUSIONS))
    basis = serializers.ChoiceField(choices=list(BASES))
    revaluations = serializers.IntegerField()
    explanation = LineOut(many=True)


class ContributionOut(serializers.Serializer):
    dataset = serializers.IntegerField()
    title = serializers.CharField(allow_blank=True)
    value = serializers.FloatField(help_text="Sum of its rows' Shapley values, metric units.")
    stderr = serializers.FloatField()
    in_bundle = serializers.BooleanField()
    excluded_because = serializers.ChoiceField(choices=["", *EXCLUSIONS])


class BasisOut(serializers.Serializer):
    method = serializers.CharField()
    metric = serializers.CharField()
    rows = serializers.IntegerField()
    utility_evaluations = serializers.IntegerField()


class QuoteOut(serializers.Serializer):
    offer = OfferOut()
    contributions = ContributionOut(many=True)
    baseline_score = serializers.FloatField()
    bundle_score = serializers.FloatField()
    metric = serializers.CharField()
    basis = BasisOut(
        required=False, help_text="What the contributions were measured on (newer quotes)."
    )
    method = serializers.CharField()
    n_utility_evaluations = serializers.IntegerField()
