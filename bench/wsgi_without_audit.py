"""The product's WSGI application with the token endpoint's audit row replaced by what it must still do.

Only bench/audit_cost serves it, as the baseline a token request is measured against. Never deploy it:
it hands out tokens that no audit row records. The row's INSERT also confirms that the registry has not
changed since the cached credentials were read and that the signing key is still the active one; without
the row those checks are still needed, so here they are a SELECT sent the same way as the INSERT
(prepared, in flight while the token is signed), and the difference between the two servers is the row
alone: the INSERT and its durable commit.
"""

from authportal.wsgi import application


def _without_the_audit_row() -> None:
    # Imported after Django is set up by authportal.wsgi.
    from django.db import DEFAULT_DB_ALIAS, connections

    from clients.selectors import REGISTRY_VERSION_SQL
    from keys.selectors import signing_key_usable_sql

    registry_check = (
        b"authportal_bench_registry_and_key_check",
        f"SELECT 1 WHERE {REGISTRY_VERSION_SQL} = $1::bigint AND {signing_key_usable_sql('$2::text')}".encode(),
    )

    import oauth.services
    from audit import inflight

    class RegistryCheckInFlight(inflight.AuditRowInFlight):
        def __init__(self, registry_version: int, kid: str) -> None:
            # The connection itself, as the product's audit_record_start takes it.
            database = connections[DEFAULT_DB_ALIAS]
            self._wrapper = database
            database.ensure_connection()
            self._pgconn = database.connection.pgconn
            inflight._prepare_once(database, self._pgconn, registry_check)
            self._pgconn.send_query_prepared(
                registry_check[0], [str(registry_version).encode(), kid.encode()]
            )

    def registry_check_only(
        *, only_if_registry_version: int | None = None, only_if_signing_key: str | None = None, **fields
    ):
        if only_if_registry_version is None or only_if_signing_key is None:
            return inflight.AuditRowCommitted()
        # wait() is True when one row came back
        return RegistryCheckInFlight(only_if_registry_version, only_if_signing_key)

    oauth.services.audit_record_start = registry_check_only


_without_the_audit_row()

__all__ = ["application"]
