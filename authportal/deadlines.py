"""How long the code running now may wait for the database: set per request, read by the backend.

Protocol requests (the token endpoint, metadata, JWKS) must answer a hung database with a fast 503,
so they get a short deadline. Portal pages get a longer one: an admin's page may run a heavier query
(a search deep in the audit log), and they are few, so the threads they hold while a database hangs
are few too. Commands and Celery tasks get none: they may legitimately wait long (a purge, a backfill).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextvars import ContextVar
from time import monotonic
from typing import Any

from core.conf import app_settings

WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

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


def with_database_deadlines(
    application: WSGIApplication, *, protocol_paths: tuple[str, ...]
) -> WSGIApplication:
    """The WSGI application, each request under its deadline: its path decides which.

    A protocol request's waits share one budget, so that it answers within it however many round
    trips it makes; a portal page's each have their own, since an export streams for long. Set
    around the whole request, so that Django's connection checks at its start and end
    (`close_old_connections`) are bounded too. The thread keeps the value until its next request
    sets its own.
    """
    protocol = app_settings.DB_TIMEOUT_PROTOCOL_MS / 1000
    portal = float(app_settings.DB_TIMEOUT_PORTAL_SECONDS)

    def deadline_application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(protocol_paths):
            _limit.set(("request", monotonic() + protocol))
        else:
            _limit.set(("each", portal))
        return application(environ, start_response)

    return deadline_application
