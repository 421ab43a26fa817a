"""The product's WSGI application with the token endpoint's audit row replaced by what it must still do.

Only bench/audit_cost serves it, as the baseline a token request is measured against. Never deploy it:
it hands out tokens that no audit row records. The row's INSERT also confirms that the registry has not
changed since the cached credentials were read; without the row that check is still needed, so here it
is a plain SELECT on the same connection, and the baseline keeps the request's one round trip.
"""

from authportal.wsgi import application


def _without_the_audit_row() -> None:
    # Imported after Django is set up by authportal.wsgi.
    from django.db import connection

    import oauth.services
    from audit.inflight import AuditRowCommitted

    def registry_check_only(*, only_if_registry_version: int | None = None, **fields) -> AuditRowCommitted:
        if only_if_registry_version is None:
            return AuditRowCommitted()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COALESCE((SELECT version FROM clients_registryversion WHERE id = 1), 0) = %s",
                [only_if_registry_version],
            )
            return AuditRowCommitted(written=cursor.fetchone()[0])

    oauth.services.audit_record_start = registry_check_only


_without_the_audit_row()

__all__ = ["application"]
