"""Retention: deleting events past AUTHPORTAL_AUDIT_RETENTION_DAYS, whole checkpoints at a time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction

from audit import chain
from audit.actor import SYSTEM, Actor
from audit.models import AuditCheckpoint, AuditEvent
from audit.recording import audit_change
from core.conf import app_settings


def retention_days() -> int:
    return app_settings.AUDIT_RETENTION_DAYS


@dataclass(frozen=True)
class PurgeResult:
    cutoff: datetime
    events: int
    checkpoint: int | None  # the boundary checkpoint kept as the anchor of what remains


_PURGE_CHUNK = 20_000


def audit_purge(*, now: datetime, days: int | None = None, actor: Actor = SYSTEM) -> PurgeResult:
    """Delete events older than the retention period, whole checkpoints at a time.

    The newest checkpoint entirely older than the cutoff stays (without its leaves) as the anchor: the
    next checkpoint chains from its signed head, so what remains still verifies. Events are deleted in
    chunks, each its own short transaction, so issuance never waits on a long delete. The purge is
    itself an audit event, `audit.purged`.
    """
    cutoff = now - timedelta(days=retention_days() if days is None else days)
    boundary = (
        AuditCheckpoint.objects.filter(max_occurred_at__lt=cutoff).defer("leaves").order_by("-seq").first()
    )
    if boundary is None:
        return PurgeResult(cutoff=cutoff, events=0, checkpoint=None)
    with _purge_allowed():
        AuditCheckpoint.objects.filter(seq__lte=boundary.seq, events_purged_at__isnull=True).update(
            events_purged_at=now, leaves=b""
        )
        AuditCheckpoint.objects.filter(seq__lt=boundary.seq).delete()
    # Ids below the boundary sealed late by a kept checkpoint belong to that checkpoint: keep them.
    keep: set[int] = set()
    for late_ids in AuditCheckpoint.objects.filter(seq__gt=boundary.seq).values_list("late_ids", flat=True):
        keep.update(i for i in late_ids if i <= boundary.last_id)
    deleted = 0
    low = (
        AuditEvent.objects.filter(id__lte=boundary.last_id)
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )
    while low is not None and low <= boundary.last_id:
        high = min(low + _PURGE_CHUNK - 1, boundary.last_id)
        with _purge_allowed():
            deleted += AuditEvent.objects.filter(id__gte=low, id__lte=high).exclude(id__in=keep).delete()[0]
        low = high + 1
    audit_change(
        actor=actor,
        event="audit.purged",
        subject="audit",
        occurred_at=now,
        details={
            "cutoff": chain.time_canonical(cutoff),
            "events": deleted,
            "checkpoint": boundary.seq,
            "head": boundary.head,
        },
    )
    return PurgeResult(cutoff=cutoff, events=deleted, checkpoint=boundary.seq)


@contextmanager
def _purge_allowed() -> Iterator[None]:
    """A transaction that the append-only trigger lets delete (PostgreSQL), and nothing after it.

    The setting is transaction-local; it is also switched off on the way out, in case this runs
    inside an outer transaction, where it would otherwise outlive the block.
    """
    with transaction.atomic():
        if connection.vendor != "postgresql":
            yield
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('authportal.audit_purge', 'on', true)")
        yield
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('authportal.audit_purge', 'off', true)")
