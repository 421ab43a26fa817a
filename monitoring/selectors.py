"""What health checks and metrics read: cheap questions to the database and to memory."""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from audit.models import AuditCheckpoint, AuditEvent


def database_answers() -> None:
    """One round trip; raises django.db.Error when the database does not answer (in time)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def audit_seal_lag(*, now: datetime) -> float:
    """Seconds the oldest event not yet sealed by a checkpoint has waited (0: everything is sealed).

    Two index lookups: the last checkpoint's last id, then the first event after it.
    """
    sealed_through = (
        AuditCheckpoint.objects.order_by("-last_id").values_list("last_id", flat=True).first() or 0
    )
    oldest = (
        AuditEvent.objects.filter(id__gt=sealed_through)
        .order_by("id")
        .values_list("occurred_at", flat=True)
        .first()
    )
    return max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
