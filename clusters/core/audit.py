"""The audit trail: every human action is an AuditEntry and a timeline event."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest

from clusters.core.timeline import event_record
from clusters.models import AuditEntry, EventSeverity, EventSource


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def audit_record(
    *,
    actor: Any,  # request.user: a user, AnonymousUser, or None for the system
    action: str,
    message: str,
    request: HttpRequest | None = None,
    object_type: str = "",
    object_id: str = "",
    details: dict[str, Any] | None = None,
    severity: str = EventSeverity.INFO,
    timeline: bool = True,
    **subjects: Any,
) -> AuditEntry:
    """Record an action; ``subjects`` (cluster_arn=…, service_arn=…) place it on
    the timeline next to the objects it touched."""
    user = actor if actor is not None and actor.is_authenticated else None
    entry = AuditEntry.objects.create(
        actor=user,
        actor_name=user.get_username() if user is not None else "",
        remote_addr=client_ip(request),
        action=action,
        object_type=object_type,
        object_id=object_id,
        message=message,
        details=details or {},
    )
    if timeline:
        event_record(
            source=EventSource.AUDIT,
            severity=severity,
            message=message,
            dedupe_key=f"audit|{entry.pk}|{uuid.uuid4().hex[:8]}",
            actor=user,
            details={"action": action, "audit_id": entry.pk},
            **subjects,
        )
    return entry
