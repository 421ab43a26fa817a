"""An audit event committed while the request goes on: the token endpoint's `token.issued` row.

A token must not leave before its row is committed, and the commit waits for PostgreSQL to flush its
WAL to disk, which takes about as long as signing the token. So on PostgreSQL, outside a
transaction, the INSERT is sent with libpq's asynchronous calls (psycopg.pq) before the token is
signed and its result is read after: the database inserts and flushes while Python signs, and one
caller's request grows by the send and the read rather than by the commit.

Between `AuditRowInFlight(...)` and its `wait()` nothing else may use the connection; the token
endpoint only signs meanwhile, and waits in a `finally`, so the connection is always free again.

Tried and dropped: a group commit (rows of a process's request threads queued behind an INSERT in
flight, then sent together). On this 2-core machine its batches averaged under two rows and neither
tokens/s nor CPU per token moved (bench/audit_cost), so it was not worth its thread coordination.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
from django.conf import settings
from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg import pq

from audit.escape import details_json
from authportal.deadlines import database_wait_limit
from clients.selectors import REGISTRY_VERSION_SQL
from keys.selectors import signing_key_usable_sql

# A row in the order of AuditEvent's columns after its id.
AuditRow = tuple[datetime, str, str, str, str, str | None, str, dict[str, Any]]

# Text parameters, typed here so that the server parses each value as its column's type. A token's row
# is written only while the registry version ($9) holds (clients.selectors.client_authenticate_cached)
# and the kid that signed it ($10) is the active, published key (keys.selectors.signing_key_usable_sql).
INSERT_SQL = (
    b"INSERT INTO audit_auditevent"
    b" (occurred_at, event, outcome, actor, subject, remote_addr, request_id, details)"
    b" SELECT $1::timestamptz, $2::text, $3::text, $4::text, $5::text, $6::inet, $7::text, $8::jsonb"
)
INSERT_IF_REGISTRY_UNCHANGED_SQL = INSERT_SQL + f" WHERE {REGISTRY_VERSION_SQL} = $9::bigint".encode()
INSERT_IF_KEY_USABLE_SQL = INSERT_SQL + f" WHERE {signing_key_usable_sql('$9::text')}".encode()
INSERT_IF_TOKEN_HOLDS_SQL = (
    INSERT_IF_REGISTRY_UNCHANGED_SQL + f" AND {signing_key_usable_sql('$10::text')}".encode()
)


class AuditWriteFailed(DatabaseError):
    """The event was not committed, so what it records must not happen (no token is handed out)."""


# Called with the seconds from sending a row's INSERT to reading its commit (monitoring/ registers one
# to export them); the audit app imports nothing of ours, so whoever watches is passed in.
commit_observers: list[Callable[[float], None]] = []


class AuditRowCommitted:
    """A row already written on the caller's connection (or found not to be written), in its transaction."""

    def __init__(self, written: bool = True) -> None:
        self.written = written

    def wait(self, timeout: float) -> bool:
        return self.written


class AuditRowInFlight:
    """One INSERT sent in autocommit, so the server commits it on its own; `wait()` reads the outcome."""

    def __init__(
        self,
        wrapper: BaseDatabaseWrapper,
        row: AuditRow,
        registry_version: int | None = None,
        signing_kid: str | None = None,
    ) -> None:
        self._wrapper = wrapper
        params = _text_params(row)
        statement = _PLAIN
        if registry_version is not None:
            statement = _IF_REGISTRY_UNCHANGED if signing_kid is None else _IF_TOKEN_HOLDS
            params.append(str(registry_version).encode())
        elif signing_kid is not None:
            statement = _IF_KEY_USABLE
        if signing_kid is not None:
            params.append(signing_kid.encode())
        self._sent_at = time.perf_counter()
        try:
            wrapper.ensure_connection()
            self._pgconn: Any = wrapper.connection.pgconn
            if getattr(settings, "AUTHPORTAL_AUDIT_PREPARED_INSERT", True):
                _prepare_once(wrapper, self._pgconn, statement)
                self._pgconn.send_query_prepared(statement[0], params)
            else:
                self._pgconn.send_query_params(statement[1], params)
        except psycopg.Error as exc:
            self._fail(exc)

    def wait(self, timeout: float) -> bool:
        """True once the row is committed; False if its condition (registry version, key) kept it out.

        Raises AuditWriteFailed if the INSERT failed or did not finish in time.
        """
        error = None
        written = 0
        try:
            for result in _results(self._wrapper, self._pgconn, timeout):
                if result.status not in _SUCCEEDED and error is None:
                    error = (result.error_message or b"").decode(errors="replace").strip()
                written += result.command_tuples or 0
        except psycopg.Error as exc:
            self._fail(exc)
        if error is not None:
            raise AuditWriteFailed(f"the audit event was not committed: {error}")
        for observe in commit_observers:
            observe(time.perf_counter() - self._sent_at)
        return written == 1

    def _fail(self, exc: psycopg.Error) -> None:
        # Django closes a connection that had errors at the end of the request, if it is unusable.
        self._wrapper.errors_occurred = True
        raise AuditWriteFailed(f"the audit event was not committed: {exc}") from exc


_SUCCEEDED = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)
_PLAIN = (b"authportal_audit_insert", INSERT_SQL)
_IF_REGISTRY_UNCHANGED = (b"authportal_audit_insert_if_registry_unchanged", INSERT_IF_REGISTRY_UNCHANGED_SQL)
_IF_KEY_USABLE = (b"authportal_audit_insert_if_key_usable", INSERT_IF_KEY_USABLE_SQL)
_IF_TOKEN_HOLDS = (b"authportal_audit_insert_if_token_holds", INSERT_IF_TOKEN_HOLDS_SQL)


def _prepare_once(wrapper: BaseDatabaseWrapper, pgconn: Any, statement: tuple[bytes, bytes]) -> None:
    """Prepare the statement on this connection the first time it is used there.

    A prepared INSERT spares PostgreSQL parsing and planning it for every token (about a tenth of a
    token request's CPU here). The record lives on Django's connection wrapper, which belongs to one
    thread, and names the libpq connection it is for, so a reconnection prepares again.
    """
    prepared = getattr(wrapper, "authportal_prepared", None)
    if prepared is None or prepared[0] is not pgconn:
        prepared = (pgconn, set())
        wrapper.authportal_prepared = prepared
    name, sql = statement
    if name in prepared[1]:
        return
    # Sent and read like the INSERT, within the request's deadline: libpq's own prepare() would wait
    # for a hung server for ever.
    pgconn.send_prepare(name, sql)
    results = _results(wrapper, pgconn, audit_write_timeout())
    # One COMMAND_OK, or else: a server that goes away mid-way answers with an error or with nothing.
    if [result.status for result in results] != [pq.ExecStatus.COMMAND_OK]:
        failed = next((r for r in results if r.status != pq.ExecStatus.COMMAND_OK), None)
        message = (failed.error_message or b"").decode(errors="replace").strip() if failed else "no answer"
        wrapper.close()  # what the connection still owes is unknown: it is not used again
        raise psycopg.OperationalError(f"cannot prepare the audit INSERT: {message}")
    prepared[1].add(name)


def _results(wrapper: BaseDatabaseWrapper, pgconn: Any, timeout: float) -> list[Any]:
    """The results of what was sent on `pgconn`, read within `timeout` seconds (and the deadline)."""
    limit = database_wait_limit()
    if limit is not None:
        timeout = min(timeout, limit)
    deadline = time.monotonic() + timeout
    pgconn.consume_input()
    while pgconn.is_busy():
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([pgconn.socket], [], [], left)[0]:
            # What was sent is still outstanding: this connection cannot be used again.
            wrapper.close()
            raise AuditWriteFailed(f"the audit event was not committed within {timeout:g} s")
        pgconn.consume_input()
    results = []
    while (result := pgconn.get_result()) is not None:
        results.append(result)
    return results


def audit_write_timeout() -> float:
    return float(getattr(settings, "AUTHPORTAL_AUDIT_WRITE_TIMEOUT_SECONDS", 10))


def _text_params(row: AuditRow) -> list[bytes | None]:
    occurred_at, event, outcome, actor, subject, remote_addr, request_id, details = row
    # PostgreSQL's text and jsonb cannot hold a NUL: audit_record_start has escaped the text columns,
    # and the details are escaped as they are serialized (audit/escape.py).
    return [
        occurred_at.isoformat().encode(),
        event.encode(),
        outcome.encode(),
        actor.encode(),
        subject.encode(),
        remote_addr.encode() if remote_addr else None,
        request_id.encode(),
        details_json(details).encode(),
    ]
