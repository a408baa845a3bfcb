"""Once-only form posts: the confirmation form carries a key made when the page was drawn,
and the first post with that key stores its outcome (:func:`marketplace.services.idempotency.once`,
as the API's ``Idempotency-Key`` does). A repeat of the key (a double click, a reload, a
back-and-resubmit) gets the stored outcome instead of a second effect; a refused request
leaves no record and may be tried again.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable

from marketplace.services.errors import Conflict
from marketplace.services.idempotency import KeyReused, Replay, once

STORED = 201


def new_key() -> str:
    """A fresh key to put into a confirmation form."""
    return f"web-{uuid.uuid4().hex}"


def _fingerprint(action: str) -> str:
    return hashlib.sha256(f"web {action}".encode()).hexdigest()


def run_once(*, user, key: str, action: str, work: Callable[[], dict]) -> dict:
    """Run ``work`` once per (user, key) and return its JSON-safe outcome; a repeat returns
    the first outcome. ``action`` names what the key was made for (e.g. ``purchase task:7``)
    so a key cannot be replayed against something else."""
    if not key or len(key) > 255:
        raise Conflict("this confirmation form has expired; open the page again")
    try:
        result = once(
            user=user,
            key=key,
            fingerprint=_fingerprint(action),
            work=work,
            stored=lambda outcome: (STORED, outcome),
        )
    except KeyReused:
        raise Conflict(
            "this confirmation form belongs to another request; open the page again"
        ) from None
    return result.body if isinstance(result, Replay) else result
