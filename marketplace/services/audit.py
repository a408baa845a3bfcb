"""Recording append-only audit events."""

from __future__ import annotations

from typing import Any

from marketplace.models import AuditEvent


def audit_record(*, actor, action: str, obj, data: dict[str, Any] | None = None) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor,
        action=action,
        object_type=type(obj).__name__.lower(),
        object_id=str(obj.pk),
        data=data or {},
    )
