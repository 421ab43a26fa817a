from __future__ import annotations

import functools
import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Q
from django.utils import timezone

from audit import chain
from audit.actor import Actor
from audit.escape import NUL, details_nul_escaped, text_nul_escaped
from audit.inflight import AuditRow, AuditRowCommitted, AuditRowInFlight, audit_write_timeout
from audit.models import AuditCheckpoint, AuditEvent
from clients.selectors import REGISTRY_VERSION_SQL
from keys.selectors import signing_key_usable_sql

# Keys that must never reach the audit table, whatever a caller passes in `details`.
_FORBIDDEN_DETAIL_KEYS = frozenset(
    {"client_secret", "secret", "access_token", "refresh_token", "token", "private_key", "password", "jwk"}
)

# Columns in leaf order (see audit/chain.py).
EVENT_COLUMNS = (
    "id",
    "occurred_at",
    "event",
    "outcome",
    "actor",
    "subject",
    "remote_addr",
    "request_id",
    "details",
)


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
    """Write one audit event. Call it inside the transaction of the change it records.

    One INSERT and nothing else: no lock, no read, no chaining. Sealing (`audit_seal`) runs behind.
    Outside a transaction the event is committed when this returns.
    """
    audit_record_start(
        event=event,
        outcome=outcome,
        actor=actor,
        subject=subject,
        remote_addr=remote_addr,
        request_id=request_id,
        details=details,
        occurred_at=occurred_at,
    ).wait(audit_write_timeout())


def audit_change(
    *,
    actor: Actor,
    event: str,
    subject: str,
    details: dict[str, Any] | None = None,
    outcome: str = AuditEvent.Outcome.SUCCESS,
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
    only_if_registry_version: int | None = None,
    only_if_signing_key: str | None = None,
) -> AuditRowCommitted | AuditRowInFlight:
    """Start writing one audit event; what it records may happen only once `.wait()` has returned.

    Inside a transaction the row is written on the caller's connection before this returns, to
    commit or roll back with the change. Outside one on PostgreSQL (the token endpoint), the INSERT
    is sent and committed while the caller goes on (signing the token) until it waits, using the
    connection for nothing else meanwhile: see audit/inflight.py.

    With `only_if_registry_version`, the row is written only if the registry (services, scopes,
    clients, grants) has not changed since that version was read, and `.wait()` says whether it was:
    the token endpoint decides from cached credentials and must not issue on stale ones. With
    `only_if_signing_key` too, only while that kid is the active, published signing key: the signer
    a process holds in memory is never handed out after a rotation or a revocation has committed.
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
    row: AuditRow = (
        occurred_at or timezone.now(),
        event,
        outcome,
        actor[:255],
        subject[:255],
        remote_addr or None,
        request_id[:128],
        details,
    )
    # The connection itself rather than the `connection` proxy, whose every attribute is a lookup in
    # thread-local storage: at the half-dozen uses here, about 12 µs of a token request, cold.
    database = connections[DEFAULT_DB_ALIAS]
    if _in_flight_applies(database):
        return AuditRowInFlight(database, row, only_if_registry_version, only_if_signing_key)
    # A hand-built INSERT skips the ORM's per-call query compilation while the fields still prepare
    # their own values.
    row = (*row[:-1], details_nul_escaped(details))
    values = [
        field.get_db_prep_save(value, connection) for field, value in zip(_insert_fields(), row, strict=True)
    ]
    conditions = [c for c in (only_if_registry_version, only_if_signing_key) if c is not None]
    with connection.cursor() as cursor:
        if not conditions:
            cursor.execute(_insert_sql(), values)
            return AuditRowCommitted()
        cursor.execute(
            _insert_conditional_sql(
                registry=only_if_registry_version is not None, key=only_if_signing_key is not None
            ),
            [*values, *conditions],
        )
        return AuditRowCommitted(written=cursor.rowcount == 1)


def _in_flight_applies(database: BaseDatabaseWrapper) -> bool:
    """A row that is its own transaction, on PostgreSQL: it may commit while the caller goes on."""
    return database.vendor == "postgresql" and not database.in_atomic_block and database.get_autocommit()


@functools.cache
def _insert_fields() -> list[Field]:
    return [field for field in AuditEvent._meta.concrete_fields if not field.primary_key]


@functools.cache
def _insert_conditional_sql(*, registry: bool, key: bool) -> str:
    q = connection.ops.quote_name
    columns = ", ".join(q(field.column) for field in _insert_fields())
    # INSERT … SELECT resolves untyped parameters as text: on PostgreSQL each is cast to its column.
    cast = connection.vendor == "postgresql"
    values = ", ".join(f"%s::{field.db_type(connection)}" if cast else "%s" for field in _insert_fields())
    conditions = [f"{REGISTRY_VERSION_SQL} = %s"] if registry else []
    conditions += [signing_key_usable_sql("%s")] if key else []
    return (
        f"INSERT INTO {q(AuditEvent._meta.db_table)} ({columns}) SELECT {values} "  # noqa: S608
        f"WHERE {' AND '.join(conditions)}"
    )


@functools.cache
def _insert_sql() -> str:
    q = connection.ops.quote_name
    columns = ", ".join(q(field.column) for field in _insert_fields())
    placeholders = ", ".join(["%s"] * len(_insert_fields()))
    return f"INSERT INTO {q(AuditEvent._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608


def operator_name(explicit: str | None = None) -> str:
    """Who runs a management command: `--actor NAME` when given, else the OS user ("os:alice")."""
    if explicit:
        return explicit
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return f"os:uid-{os.getuid()}"


ACTOR_HELP = "who to record in the audit log as acting (default: os:USER, the user running this command)"


def actor_name(user: Any) -> str:
    """How a portal user or an operator appears in the audit log."""
    if user is None:
        return "system"
    if isinstance(user, Actor):
        return user.name
    return getattr(user, "username", None) or str(user)


def event_leaf(row: tuple) -> bytes:
    """The leaf hash of a row of EVENT_COLUMNS as the ORM returns it."""
    event_id, occurred_at, event, outcome, actor, subject, remote_addr, request_id, details = row
    return chain.leaf_hash(
        id=event_id,
        occurred_at=chain.time_canonical(occurred_at),
        event=event,
        outcome=outcome,
        actor=actor,
        subject=subject,
        remote_addr=remote_addr,
        request_id=request_id,
        details=details,
    )


# --- sealing -------------------------------------------------------------------------------------------

_SEAL_LOCK = 0x41554454  # "AUDT": one sealer at a time on PostgreSQL (the unique seq is the backstop)


def seal_max_events() -> int:
    return int(getattr(settings, "AUTHPORTAL_AUDIT_SEAL_MAX_EVENTS", 100_000))


def seal_gap_seconds() -> int:
    return int(getattr(settings, "AUTHPORTAL_AUDIT_GAP_SECONDS", 3600))


def audit_seal(*, now: datetime | None = None, max_events: int | None = None) -> list[AuditCheckpoint]:
    """Seal every committed event not yet sealed into signed checkpoints, oldest first.

    Never blocks token issuance: it only reads events and writes checkpoints. Ids are taken from a
    sequence before commit, so a transaction can commit id 100 after id 101 was sealed: an id missing
    when sealed is recorded as a gap, and a gap that fills within AUTHPORTAL_AUDIT_GAP_SECONDS (a slow
    transaction) is sealed by a later checkpoint as a late id. Safe to run from two workers at once.
    """
    sealed = []
    while True:
        checkpoint = _seal_one(now=now or timezone.now(), max_events=max_events or seal_max_events())
        if checkpoint is None:
            return sealed
        sealed.append(checkpoint)


@transaction.atomic
def _seal_one(*, now: datetime, max_events: int) -> AuditCheckpoint | None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SEAL_LOCK])
    last = AuditCheckpoint.objects.order_by("-seq").defer("leaves").first()
    high = last.last_id if last else 0
    late_rows = list(_late_candidates(now=now).order_by("id").values_list(*EVENT_COLUMNS))
    new_rows = AuditEvent.objects.filter(id__gt=high).order_by("id").values_list(*EVENT_COLUMNS)
    leaves = bytearray()
    gap_ids: list[int] = []
    count = 0
    min_at = max_at = None
    last_id = high
    for row in _chain_rows(late_rows, new_rows.iterator(chunk_size=2000), limit=max_events):
        event_id, occurred_at = row[0], row[1]
        if event_id > high:
            gap_ids.extend(range(last_id + 1, event_id))
            last_id = event_id
        leaves += event_leaf(row)
        count += 1
        min_at = occurred_at if min_at is None or occurred_at < min_at else min_at
        max_at = occurred_at if max_at is None or occurred_at > max_at else max_at
    if count == 0:
        return None
    prev_head = last.head if last else chain.GENESIS
    head = chain.chain_head(prev_head, bytes(leaves))
    fields = {
        "seq": (last.seq + 1) if last else 1,
        "sealed_at": chain.time_canonical(now),
        "first_id": high + 1,
        "last_id": last_id,
        "gaps": chain.ranges_from_ids(gap_ids),
        "late_ids": [row[0] for row in late_rows],
        "event_count": count,
        "min_occurred_at": chain.time_canonical(min_at),
        "max_occurred_at": chain.time_canonical(max_at),
        "prev_head": prev_head,
        "head": head,
    }
    payload = chain.checkpoint_payload(**fields)
    jws, kid, public_jwk = _sign(payload)
    return AuditCheckpoint.objects.create(
        **{**fields, "sealed_at": now, "min_occurred_at": min_at, "max_occurred_at": max_at},
        leaves=bytes(leaves),
        kid=kid,
        public_jwk=public_jwk,
        jws=jws,
    )


def _chain_rows(late_rows: list[tuple], new_rows, *, limit: int):
    # Late ids are all below first_id, so late rows then new rows is ascending id order.
    yield from late_rows
    for index, row in enumerate(new_rows):
        if index >= limit:
            return
        yield row


def _late_candidates(*, now: datetime):
    """Events that committed into a recent checkpoint's gap."""
    recent = AuditCheckpoint.objects.filter(sealed_at__gte=now - timedelta(seconds=seal_gap_seconds()))
    gaps: list[list[int]] = []
    already: set[int] = set()
    for checkpoint_gaps, late_ids in recent.values_list("gaps", "late_ids"):
        gaps.extend(checkpoint_gaps)
        already.update(late_ids)
    if not gaps:
        return AuditEvent.objects.none()
    in_gaps = Q()
    for lo, hi in gaps:
        in_gaps |= Q(id__gte=lo, id__lte=hi)
    return AuditEvent.objects.filter(in_gaps).exclude(id__in=already)


def _sign(payload: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    # The active token-signing key: no key of our own to generate, encrypt, rotate or back up, and its
    # public half is already in our JWKS, where an auditor can check the kid independently.
    from keys.crypto import jwk_public_dict
    from keys.tokens import signer_active

    signer = signer_active()
    public_jwk = jwk_public_dict(signer.jwk, kid=signer.kid, algorithm=signer.algorithm)
    jws = chain.checkpoint_sign(payload, jwk=signer.jwk, kid=signer.kid, algorithm=signer.algorithm)
    return jws, signer.kid, public_jwk


# --- retention -----------------------------------------------------------------------------------------


def retention_days() -> int:
    return int(getattr(settings, "AUTHPORTAL_AUDIT_RETENTION_DAYS", 400))


@dataclass(frozen=True)
class PurgeResult:
    cutoff: datetime
    events: int
    checkpoint: int | None  # the boundary checkpoint kept as the anchor of what remains


_PURGE_CHUNK = 20_000


def audit_purge(*, now: datetime, days: int | None = None, actor: Any = None) -> PurgeResult:
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
    audit_record(
        event="audit.purged",
        actor=actor_name(actor),
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
