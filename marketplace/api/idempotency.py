"""``Idempotency-Key`` for unsafe requests: the first response is stored and replayed.

The record is written in the same transaction as the work, under a unique constraint on
(user, key): a concurrent duplicate waits for the first to commit, then fails the insert and
replays the stored response, so one key means one effect. A reused key with a different
request is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction
from rest_framework.response import Response

from marketplace.models import IdempotencyRecord

HEADER = "Idempotency-Key"


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str) if request.data else ""
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        return Response({"detail": f"this {HEADER} was used for a different request"}, status=422)
    response = Response(record.body, status=record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(request, work: Callable[[], Response]) -> Response:
    """Run ``work`` once per (user, key); without the header just run it."""
    key = request.headers.get(HEADER)
    if not key:
        return work()
    if len(key) > 255:
        return Response({"detail": f"{HEADER} is longer than 255 characters"}, status=400)
    fingerprint = _fingerprint(request)
    existing = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
    if existing is not None:
        return _replay(existing, fingerprint)
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                user=request.user, key=key, fingerprint=fingerprint, status_code=0, body={}
            )
            response = work()
            if response.status_code >= 500:  # not stored: the client may retry the key
                transaction.set_rollback(True)
                return response
            record.status_code = response.status_code
            record.body = response.data
            record.save(update_fields=["status_code", "body"])
            return response
    except IntegrityError:
        record = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
        if record is None:
            raise
        return _replay(record, fingerprint)
