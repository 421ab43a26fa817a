"""How long the code running now may wait for the database: set per request, read where it waits.

The bottom of the house: the PostgreSQL backend (authportal/postgres) and the token's audit row in
flight (audit/inflight.py) read it; the WSGI wrapper (authportal/deadlines.py) sets it per request.
Commands and Celery tasks set nothing, so they wait as long as it takes.
"""

from __future__ import annotations

from contextvars import ContextVar
from time import monotonic

# Either ("request", a time.monotonic() by which the whole request's waits must be over) or
# ("each", the seconds any one wait may last); None: no limit.
_limit: ContextVar[tuple[str, float] | None] = ContextVar("database_wait_limit", default=None)


def database_wait_limit() -> float | None:
    """Seconds the next wait for the database may last here, or None for no limit."""
    limit = _limit.get()
    if limit is None:
        return None
    kind, value = limit
    return max(value - monotonic(), 0.001) if kind == "request" else value


def database_deadline_per_request(seconds: float) -> None:
    """Every wait from now on shares one budget of `seconds` (a protocol request)."""
    _limit.set(("request", monotonic() + seconds))


def database_deadline_per_wait(seconds: float) -> None:
    """Each wait from now on may last `seconds` (a portal page, which may stream for long)."""
    _limit.set(("each", seconds))
