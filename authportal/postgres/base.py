"""Django's PostgreSQL backend, with a deadline on every wait for the server.

A PostgreSQL server that hangs (frozen, swapping, a network path that drops packets) still has its
kernel ACK our packets, so neither TCP nor the server's `statement_timeout` ever ends the wait: a
request would hold its thread until the client gave up. Here each wait for the server (connecting,
and every round trip of a query) is bounded by the deadline of the code that asks
(`core.deadlines`, set by `authportal.deadlines`): a request of the protocol has `AUTHPORTAL_DB_TIMEOUT_PROTOCOL_MS` for all
its waits, a portal page `AUTHPORTAL_DB_TIMEOUT_PORTAL_SECONDS` for each, and commands and Celery tasks wait as long as
it takes, as before. A wait that runs out closes the connection (the query is still outstanding on
it) and raises OperationalError, which the token endpoint answers with 503 `temporarily_unavailable`.

psycopg 3.3 takes a timeout in `Connection.wait()`, which every query goes through. Connecting does
not: libpq's and psycopg's `connect_timeout` is whole seconds, at least 2, so the connection
generator is bounded here instead, checked at each of psycopg's 0.1 s wake-ups.
"""

from __future__ import annotations

import types
from collections.abc import Generator
from time import monotonic
from typing import Any

import psycopg
from django.db.backends.postgresql import base

from core.deadlines import database_wait_limit


class DatabaseTimeout(psycopg.errors.OperationalError):
    """The server did not answer within the caller's deadline; the connection has been closed."""


class BoundedConnection(psycopg.Connection):
    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        limit = database_wait_limit()
        if timeout is not None or limit is None:
            return super().wait(gen, interval, timeout)
        try:
            return super().wait(gen, interval, limit)
        except psycopg.errors._WaitTimeout:
            # The request is still outstanding on this connection: it cannot be used again.
            self.close()
            raise DatabaseTimeout(f"the database did not answer in time ({limit:.3g} s)") from None

    @classmethod
    def _connect_gen(cls, conninfo: str = "") -> Any:
        gen = super()._connect_gen(conninfo)
        limit = database_wait_limit()
        return gen if limit is None else _within(gen, limit)


def _within(gen: Generator[Any, Any, Any], seconds: float) -> Generator[Any, Any, Any]:
    """`gen`, refused once `seconds` have passed (psycopg wakes it with nothing ready every 0.1 s)."""
    deadline = monotonic() + seconds
    try:
        waiting_for = next(gen)
        while True:
            ready = yield waiting_for
            if monotonic() >= deadline:
                gen.close()
                raise psycopg.errors.ConnectionTimeout(
                    f"no connection to the database in time ({seconds:.3g} s)"
                )
            waiting_for = gen.send(ready)
    except StopIteration as done:
        return done.value


# Django calls `self.Database.connect(...)`: the psycopg module, but connecting with our class.
_bounded_psycopg = types.ModuleType("psycopg")
_bounded_psycopg.__dict__.update(vars(psycopg))
_bounded_psycopg.connect = BoundedConnection.connect  # type: ignore[attr-defined]


class DatabaseWrapper(base.DatabaseWrapper):
    Database = _bounded_psycopg
