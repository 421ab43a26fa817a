from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from audit.models import AuditEvent

# Keys that must never reach the audit table, whatever a caller passes in `details`.
_FORBIDDEN_DETAIL_KEYS = frozenset({"client_secret", "secret", "access_token", "token", "private_key", "password"})


def audit_record(
    *,
    event: str,
    outcome: str = AuditEvent.Outcome.SUCCESS,
    actor: str = "",
    subject: str = "",
    remote_addr: str | None = None,
    request_id: str = "",
    details: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> AuditEvent:
    """Write one audit event. Call it inside the transaction of the change it records."""
    details = details or {}
    leaked = _FORBIDDEN_DETAIL_KEYS.intersection(details)
    if leaked:
        raise ValueError(f"audit details must not carry secrets: {sorted(leaked)}")
    return AuditEvent.objects.create(
        occurred_at=occurred_at or timezone.now(),
        event=event,
        outcome=outcome,
        actor=actor[:255],
        subject=subject[:255],
        remote_addr=remote_addr or None,
        request_id=request_id[:128],
        details=details,
    )


def actor_name(user: Any) -> str:
    """How a portal user or an operator appears in the audit log."""
    if user is None:
        return "system"
    return getattr(user, "username", None) or str(user)
