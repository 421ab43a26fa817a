"""The read replica: which database the audit log's reports read from, and the router that keeps the rest
on the primary.

With `DATABASE_REPLICA_URL` set, settings add the alias `replica` (a PostgreSQL streaming replica of
`DATABASE_URL`). Audit search (the portal's audit page, the API's `/api/v1/audit/events/`) and audit export
(the portal, the API, `export_audit`) read events and checkpoints from it, so an auditor's long export or a
deep search takes nothing from the token endpoint's primary. Everything else reads and writes the primary,
including the `audit.exported` row an export writes, sealing and `verify_audit` (which must see every
committed row, not a replica's slightly older copy). Without a replica, or while it cannot be reached,
reports read the primary.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

REPLICA = "replica"
log = logging.getLogger(__name__)


def reports_database() -> str:
    """The alias audit search and export read from: the replica when one is configured and answers, else the
    primary (an auditor's search is slower on the primary, never refused because the replica is down)."""
    if REPLICA not in settings.DATABASES:
        return DEFAULT_DB_ALIAS
    try:
        connections[REPLICA].ensure_connection()
    except DatabaseError as error:
        log.warning("the read replica cannot be reached, so audit reports read the primary: %s", error)
        return DEFAULT_DB_ALIAS
    return REPLICA


class PrimaryReplicaRouter:
    """The primary for every read and write that does not name the replica, and no migration on the replica.

    A replica gets its schema from the primary through replication; migrating it would fail (it is
    read-only) and must not be tried. Objects read from either alias are the same rows, so relations
    between them are allowed.
    """

    def db_for_read(self, model: type, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model: type, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: object, obj2: object, **hints: Any) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db != REPLICA
