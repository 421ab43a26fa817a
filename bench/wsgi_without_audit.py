"""The product's WSGI application with the token endpoint's audit row replaced by a no-op.

Only bench/audit_cost serves it, as the baseline a token request is measured against. Never deploy it:
it hands out tokens that no audit row records.
"""

from authportal.wsgi import application


def _without_the_audit_row() -> None:
    # Imported after Django is set up by authportal.wsgi.
    import oauth.services
    from audit.inflight import AuditRowCommitted

    oauth.services.audit_record_start = lambda **fields: AuditRowCommitted()


_without_the_audit_row()

__all__ = ["application"]
