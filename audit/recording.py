"""Writing audit events: `audit_record`, the one way a row is written, and its variants.

Every issuance, denial and change writes its row in the transaction of what it records. A row's
columns are `chain.EventRow`'s; a condition from above (the registry has not changed, the signing key
still holds) comes in as a `RowCondition` (audit/rows.py), so that audit imports no app of ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Required, TypedDict, Unpack

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from audit.actor import Actor
from audit.chain import EventRow
from audit.escape import NUL, details_nul_escaped, text_nul_escaped
from audit.inflight import AuditRowCommitted, AuditRowInFlight, audit_write_timeout
from audit.models import AuditEvent
from audit.rows import RowCondition, insert_conditional_sql, insert_fields, insert_sql, is_json

# Keys that must never reach the audit table, whatever a caller passes in `details`.
_FORBIDDEN_DETAIL_KEYS = frozenset(
    {"client_secret", "secret", "access_token", "refresh_token", "token", "private_key", "password", "jwk"}
)


class RowFields(TypedDict, total=False):
    """The event's fields, as `audit_record` and `audit_record_start` take them (defaults there)."""

    event: Required[str]
    outcome: str
    actor: str
    subject: str
    remote_addr: str | None
    request_id: str
    details: dict[str, Any] | None
    occurred_at: datetime | None


def audit_record(**fields: Unpack[RowFields]) -> None:
    """Write one audit event. Call it inside the transaction of the change it records.

    One INSERT and nothing else: no lock, no read, no chaining. Sealing (`audit_seal`) runs behind.
    Outside a transaction the event is committed when this returns.
    """
    audit_record_start(**fields).wait(audit_write_timeout())


def audit_change(
    *,
    actor: Actor,
    event: str,
    subject: str,
    details: dict[str, Any] | None = None,
    outcome: str = AuditEvent.Outcome.SUCCESS,
    occurred_at: datetime | None = None,
) -> None:
    """Record a change made by `actor` (a portal user, an operator, the system), with the request it came in.

    Call it inside the transaction of the change it records, like `audit_record`.
    """
    audit_record(
        event=event,
        outcome=outcome,
        actor=actor.name,
        subject=subject,
        remote_addr=actor.remote_addr,
        request_id=actor.request_id,
        details=details,
        occurred_at=occurred_at,
    )


def audit_record_start(
    *,
    event: str,
    outcome: str = AuditEvent.Outcome.SUCCESS,
    actor: str = "",
    subject: str = "",
    remote_addr: str | None = None,
    request_id: str = "",
    details: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
    only_if: Sequence[RowCondition] = (),
) -> AuditRowCommitted | AuditRowInFlight:
    """Start writing one audit event; what it records may happen only once `.wait()` has returned.

    Inside a transaction the row is written on the caller's connection before this returns, to
    commit or roll back with the change. Outside one on PostgreSQL (the token endpoint), the INSERT
    is sent and committed while the caller goes on (signing the token) until it waits, using the
    connection for nothing else meanwhile: see audit/inflight.py.

    With `only_if`, the row is written only if every condition holds when it is inserted, and
    `.wait()` says whether it was: the token endpoint decides from cached credentials and a signer
    held in memory, and must not issue on a registry that has changed or a key that no longer signs.
    """
    details = details or {}
    leaked = _FORBIDDEN_DETAIL_KEYS.intersection(details)
    if leaked:
        raise ValueError(f"audit details must not carry secrets: {sorted(leaked)}")
    # Hostile text is stored escaped, never refused (audit/escape.py); details are escaped where they
    # are serialized, below and in audit/inflight.py.
    if NUL in f"{event}{outcome}{actor}{subject}{request_id}":
        event, outcome, actor, subject, request_id = (
            text_nul_escaped(text) for text in (event, outcome, actor, subject, request_id)
        )
    row = EventRow(
        id=None,
        occurred_at=occurred_at or timezone.now(),
        event=event,
        outcome=outcome,
        actor=actor[:255],
        subject=subject[:255],
        remote_addr=remote_addr or None,
        request_id=request_id[:128],
        details=details,
    )
    # The connection itself rather than the `connection` proxy, whose every attribute is a lookup in
    # thread-local storage: at the half-dozen uses here, about 12 µs of a token request, cold.
    database = connections[DEFAULT_DB_ALIAS]
    if _in_flight_applies(database):
        return AuditRowInFlight(database, row, only_if)
    # A hand-built INSERT skips the ORM's per-call query compilation while the fields still prepare
    # their own values.
    values = [
        field.get_db_prep_save(details_nul_escaped(value) if is_json(field) else value, connection)
        for field, value in zip(insert_fields(), row[1:], strict=True)
    ]
    with connection.cursor() as cursor:
        if not only_if:
            cursor.execute(insert_sql(), values)
            return AuditRowCommitted()
        cursor.execute(
            insert_conditional_sql(tuple((c.sql, len(c.params)) for c in only_if)),
            [*values, *(param for condition in only_if for param in condition.params)],
        )
        return AuditRowCommitted(written=cursor.rowcount == 1)


def _in_flight_applies(database: BaseDatabaseWrapper) -> bool:
    """A row that is its own transaction, on PostgreSQL: it may commit while the caller goes on."""
    return database.vendor == "postgresql" and not database.in_atomic_block and database.get_autocommit()
