from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Field
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
) -> None:
    """Write one audit event. Call it inside the transaction of the change it records."""
    details = details or {}
    leaked = _FORBIDDEN_DETAIL_KEYS.intersection(details)
    if leaked:
        raise ValueError(f"audit details must not carry secrets: {sorted(leaked)}")
    row = AuditEvent(
        occurred_at=occurred_at or timezone.now(),
        event=event,
        outcome=outcome,
        actor=actor[:255],
        subject=subject[:255],
        remote_addr=remote_addr or None,
        request_id=request_id[:128],
        details=details,
    )
    # Every token request writes one of these: a prepared INSERT skips the ORM's per-call query
    # compilation while the fields still prepare their own values.
    fields = _insert_fields()
    values = [field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(), values)


@functools.cache
def _insert_fields() -> list[Field]:
    return [field for field in AuditEvent._meta.concrete_fields if not field.primary_key]


@functools.cache
def _insert_sql() -> str:
    q = connection.ops.quote_name
    columns = ", ".join(q(field.column) for field in _insert_fields())
    placeholders = ", ".join(["%s"] * len(_insert_fields()))
    return f"INSERT INTO {q(AuditEvent._meta.db_table)} ({columns}) VALUES ({placeholders})"


def actor_name(user: Any) -> str:
    """How a portal user or an operator appears in the audit log."""
    if user is None:
        return "system"
    return getattr(user, "username", None) or str(user)
