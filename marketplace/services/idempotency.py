"""Once-only requests: the first outcome of a (user, key) is stored and a repeat replays it.

The record is written in the same transaction as the work, under a unique constraint on
(user, key): a concurrent duplicate waits for the first to commit, then fails the insert and
replays the stored outcome, so one key means one effect. A key reused for another request
(another fingerprint) is refused. The API's ``Idempotency-Key`` header
(:mod:`marketplace.api.idempotency`) and the web's confirmation forms
(:mod:`marketplace.web.idempotency`) both go through :func:`once`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import IntegrityError, transaction

from marketplace.models import IdempotencyRecord

T = TypeVar("T")


class KeyReused(Exception):
    """The key was first used for a different request."""


@dataclass(frozen=True)
class Replay:
    """The stored outcome of the key's first request."""

    status_code: int
    body: Any


def once(
    *,
    user,
    key: str,
    fingerprint: str,
    work: Callable[[], T],
    stored: Callable[[T], tuple[int, Any] | None],
) -> T | Replay:
    """Run ``work`` once per (user, key) and return its result; a repeat returns the
    :class:`Replay` of the first. ``stored(result)`` is what to keep (status code, JSON-safe
    body), or None to keep nothing — the work's transaction is rolled back, so the key may be
    tried again. Raises :class:`KeyReused` when the key's first request had another
    ``fingerprint``."""
    existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if existing is not None:
        return _replay(existing, fingerprint)
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                user=user, key=key, fingerprint=fingerprint, status_code=0, body={}
            )
            result = work()
            kept = stored(result)
            if kept is None:
                transaction.set_rollback(True)
                return result
            record.status_code, record.body = kept
            record.save(update_fields=["status_code", "body"])
            return result
    except IntegrityError:
        # A concurrent request with the same key committed first: give its outcome.
        record = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if record is None:
            raise
        return _replay(record, fingerprint)


def _replay(record: IdempotencyRecord, fingerprint: str) -> Replay:
    if record.fingerprint != fingerprint:
        raise KeyReused(record.key)
    return Replay(record.status_code, record.body)
