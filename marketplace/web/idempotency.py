"""Once-only form posts: the confirmation form carries a key made when the page was drawn,
and the first post with that key stores its outcome in the same
:class:`~marketplace.models.IdempotencyRecord` table the API uses. A repeat of the key (a
double click, a reload, a back-and-resubmit) gets the stored outcome instead of a second
effect. The record is written in the work's transaction, so a refused request leaves no
record and may be tried again.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable

from django.db import IntegrityError, transaction

from marketplace.models import IdempotencyRecord
from marketplace.services.errors import Conflict

STORED = 201


def new_key() -> str:
    """A fresh key to put into a confirmation form."""
    return f"web-{uuid.uuid4().hex}"


def _fingerprint(action: str) -> str:
    return hashlib.sha256(f"web {action}".encode()).hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> dict:
    if record.fingerprint != fingerprint:
        raise Conflict("this confirmation form belongs to another request; open the page again")
    return record.body


def run_once(*, user, key: str, action: str, work: Callable[[], dict]) -> dict:
    """Run ``work`` once per (user, key) and return its JSON-safe outcome; a repeat returns
    the first outcome. ``action`` names what the key was made for (e.g. ``purchase task:7``)
    so a key cannot be replayed against something else."""
    if not key or len(key) > 255:
        raise Conflict("this confirmation form has expired; open the page again")
    fingerprint = _fingerprint(action)
    existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if existing is not None:
        return _replay(existing, fingerprint)
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                user=user, key=key, fingerprint=fingerprint, status_code=0, body={}
            )
            outcome = work()
            record.status_code = STORED
            record.body = outcome
            record.save(update_fields=["status_code", "body"])
            return outcome
    except IntegrityError:
        # A concurrent post with the same key committed first: give its outcome.
        record = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if record is None:
            raise
        return _replay(record, fingerprint)
