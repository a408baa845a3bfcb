"""The market's records: who trades (accounts), what is sold (datasets), what is asked
(tasks), what was bought (orders, entitlements, payouts) and where the money is (ledger)."""

from marketplace.models.accounts import Profile
from marketplace.models.audit import AuditEvent
from marketplace.models.datasets import Dataset, RowHash
from marketplace.models.insights import LabelPool, QualitySignal, TaskInsight
from marketplace.models.ledger import JournalEntry, LedgerAccount, Posting
from marketplace.models.orders import Entitlement, IdempotencyRecord, Order, Payout
from marketplace.models.tasks import Task

__all__ = [
    "AuditEvent",
    "Dataset",
    "Entitlement",
    "IdempotencyRecord",
    "JournalEntry",
    "LabelPool",
    "LedgerAccount",
    "Order",
    "Payout",
    "Posting",
    "Profile",
    "QualitySignal",
    "RowHash",
    "Task",
    "TaskInsight",
]
