"""What was bought: the order, each provider's payout with its receipt, the buyer's
entitlements, and the stored responses that make purchases idempotent."""

from django.conf import settings
from django.db import models


class Order(models.Model):
    class Kind(models.TextChoices):
        BUNDLE = "bundle", "Whole datasets"
        ROWS = "rows", "Selected rows"

    kind = models.CharField(max_length=10, choices=Kind, default=Kind.BUNDLE)
    consumer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    task = models.OneToOneField("marketplace.Task", on_delete=models.PROTECT, related_name="order")
    price_cents = models.PositiveBigIntegerField()
    fee_cents = models.PositiveBigIntegerField()
    withheld_cents = models.PositiveBigIntegerField(default=0)
    refund_cents = models.PositiveBigIntegerField(default=0)
    quote = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"order {self.pk} ({self.price_cents} cents)"


class Payout(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payouts")
    provider = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts"
    )
    dataset = models.ForeignKey("marketplace.Dataset", on_delete=models.PROTECT, related_name="+")
    amount_cents = models.PositiveBigIntegerField()
    receipt = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "dataset"], name="payout_once_per_dataset")
        ]

    def __str__(self) -> str:
        return f"payout {self.pk}: {self.amount_cents} cents"


class Entitlement(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="entitlements"
    )
    dataset = models.ForeignKey(
        "marketplace.Dataset", on_delete=models.PROTECT, related_name="entitlements"
    )
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="entitlements")
    #: The bought rows (0-based positions in the dataset's file), ascending; None is all rows.
    rows = models.JSONField(null=True, blank=True)
    download_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "dataset"], name="entitlement_once_per_order")
        ]

    def __str__(self) -> str:
        return f"{self.user} → dataset {self.dataset_id}"


class IdempotencyRecord(models.Model):
    """The first response to a request with an ``Idempotency-Key``; replays get it back."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
