"""Audit trail of domain actions and of reads of sensitive records."""

from __future__ import annotations

from typing import Any

from support.models import AuditEntry


def record(
    *, actor, action: str, obj=None, object_type: str = "", object_id: str = "", municipality_id: int | None = None,
    ip: str | None = None, details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write one audit entry. `details` must never hold child-related free text or CPR numbers."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        municipality_id = municipality_id or getattr(obj, "municipality_id", None)
    return AuditEntry.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_label=getattr(actor, "username", "") or "system",
        action=action,
        object_type=object_type,
        object_id=object_id,
        municipality_id=municipality_id,
        ip=ip,
        details=details or {},
    )
