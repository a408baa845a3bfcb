"""Double-entry ledger in integer cents.

Every money movement is one :class:`JournalEntry` whose :class:`Posting` amounts sum to zero;
an account's balance is the sum of its postings (cached on the account row, updated in the
same transaction under a row lock). The ``external`` account is where deposited money comes
from, so the sum over all accounts is always zero. Posted entries are never edited.
"""

from django.conf import settings
from django.db import models


class LedgerAccount(models.Model):
    class Kind(models.TextChoices):
        WALLET = "wallet", "Wallet (spendable)"
        HOLD = "hold", "Held for tasks"
        ESCROW = "escrow", "Escrow"
        PAYABLE = "payable", "Provider earnings"
        FEE = "fee", "Platform fees"
        RESERVE = "reserve", "Platform replication reserve"
        EXTERNAL = "external", "Outside world (deposits)"

    key = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=10, choices=Kind)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
    )
    balance_cents = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return self.key


class JournalEntry(models.Model):
    class Kind(models.TextChoices):
        DEPOSIT = "deposit", "Deposit"
        HOLD = "hold", "Hold budget"
        RELEASE = "release", "Release hold"
        CAPTURE = "capture", "Capture purchase"
        SETTLE = "settle", "Settle purchase"

    kind = models.CharField(max_length=10, choices=Kind)
    memo = models.CharField(max_length=255)
    reference = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "journal entries"

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}: {self.memo}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("journal entries are immutable; post a reversal instead")
        super().save(*args, **kwargs)


class Posting(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="postings")
    amount_cents = models.BigIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(amount_cents=0), name="posting_nonzero")
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.amount_cents:+d}"
