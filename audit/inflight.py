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
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg import pq

from audit.chain import EventRow
from audit.rows import RowCondition, insert_text_sql, text_params
from core.conf import app_settings
from core.deadlines import database_wait_limit


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
        self, wrapper: BaseDatabaseWrapper, row: EventRow, only_if: Sequence[RowCondition] = ()
    ) -> None:
        self._wrapper = wrapper
        params = text_params(row)
        for condition in only_if:
            params.extend(str(param).encode() for param in condition.params)
        statement = insert_text_sql(tuple((c.name, c.sql, c.casts) for c in only_if))
        self._sent_at = time.perf_counter()
        try:
            wrapper.ensure_connection()
            self._pgconn: pq.abc.PGconn = wrapper.connection.pgconn
            if app_settings.AUDIT_PREPARED_INSERT:
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


def _prepare_once(
    wrapper: BaseDatabaseWrapper, pgconn: pq.abc.PGconn, statement: tuple[bytes, bytes]
) -> None:
    """Prepare the statement on this connection the first time it is used there.

    A prepared INSERT spares PostgreSQL parsing and planning it for every token (about a tenth of a
    token request's CPU here). The record lives on Django's connection wrapper, which belongs to one
    thread, and names the libpq connection it is for, so a reconnection prepares again.
    """
    prepared: tuple[pq.abc.PGconn, set[bytes]] | None = getattr(wrapper, "authportal_prepared", None)
    if prepared is None or prepared[0] is not pgconn:
        prepared = (pgconn, set())
        wrapper.authportal_prepared = prepared  # type: ignore[attr-defined]  # ours, on Django's wrapper
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


def _results(wrapper: BaseDatabaseWrapper, pgconn: pq.abc.PGconn, timeout: float) -> list[Any]:
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
    return float(app_settings.AUDIT_WRITE_TIMEOUT_SECONDS)
