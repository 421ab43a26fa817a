"""Helpers for the audit tests: writing events at chosen times, and tampering past the trigger."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from audit.recording import audit_record

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def write_events(
    count: int, *, start: datetime = T0, step: timedelta = timedelta(minutes=1), **fields
) -> None:
    for index in range(count):
        audit_record(
            event=fields.get("event", "token.issued"),
            actor=fields.get("actor", "client-a"),
            subject=fields.get("subject", "client:client-a"),
            occurred_at=start + index * step,
            details=fields.get("details", {"jti": f"jti-{index}"}),
        )


@contextmanager
def trigger_disabled():
    """What an intruder with the table owner's rights does first: switch the append-only trigger off."""
    if connection.vendor != "postgresql":
        yield
        return
    tables = ("audit_auditevent", "audit_auditcheckpoint")
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")


@pytest.fixture
def tamper(db):
    return trigger_disabled


@pytest.fixture
def signing_key(db):
    """The first signing key, made just before T0, so its key.activated event sits with the others."""
    from keys.services import signing_key_active

    return signing_key_active(now=T0 - timedelta(minutes=1))
