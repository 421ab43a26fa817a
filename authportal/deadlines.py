"""How long a request may wait for the database: set per request here, kept in core/deadlines.py.

Protocol requests (the token endpoint, metadata, JWKS) must answer a hung database with a fast 503,
so they get a short deadline. Portal pages get a longer one: an admin's page may run a heavier query
(a search deep in the audit log), and they are few, so the threads they hold while a database hangs
are few too. Commands and Celery tasks get none: they may legitimately wait long (a purge, a backfill).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from core.conf import app_settings
from core.deadlines import database_deadline_per_request, database_deadline_per_wait

WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


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
            database_deadline_per_request(protocol)
        else:
            database_deadline_per_wait(portal)
        return application(environ, start_response)

    return deadline_application
