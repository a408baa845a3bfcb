"""``Idempotency-Key`` for unsafe requests: the first response is stored and replayed
(:func:`marketplace.services.idempotency.once`); a response of 500 or more is not stored,
so the client may retry the key. A reused key with a different request is refused (422)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from rest_framework.response import Response

from marketplace.services.idempotency import KeyReused, Replay, once

HEADER = "Idempotency-Key"


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str) if request.data else ""
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _kept(response: Response) -> tuple[int, object] | None:
    return None if response.status_code >= 500 else (response.status_code, response.data)


def idempotent(request, work: Callable[[], Response]) -> Response:
    """Run ``work`` once per (user, key); without the header just run it."""
    key = request.headers.get(HEADER)
    if not key:
        return work()
    if len(key) > 255:
        return Response({"detail": f"{HEADER} is longer than 255 characters"}, status=400)
    try:
        result = once(
            user=request.user, key=key, fingerprint=_fingerprint(request), work=work, stored=_kept
        )
    except KeyReused:
        return Response({"detail": f"this {HEADER} was used for a different request"}, status=422)
    if isinstance(result, Replay):
        response = Response(result.body, status=result.status_code)
        response["Idempotent-Replayed"] = "true"
        return response
    return result
