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

    import oauth.services
    from audit import inflight
    from audit.rows import RowCondition

    class ConditionsCheckInFlight(inflight.AuditRowInFlight):
        def __init__(self, only_if: tuple[RowCondition, ...]) -> None:
            # The connection itself, as the product's audit_record_start takes it; the token's own
            # conditions (registry version, signing key), checked by a prepared SELECT instead of the row.
            database = connections[DEFAULT_DB_ALIAS]
            self._wrapper = database
            database.ensure_connection()
            self._pgconn = database.connection.pgconn
            number = 0
            where = []
            for condition in only_if:
                where.append(
                    condition.sql.format(
                        *(f"${number + i}::{cast}" for i, cast in enumerate(condition.casts, 1))
                    )
                )
                number += len(condition.casts)
            name = "authportal_bench_check_" + "_and_".join(c.name for c in only_if)
            statement = (name.encode(), f"SELECT 1 WHERE {' AND '.join(where)}".encode())
            inflight._prepare_once(database, self._pgconn, statement)
            self._pgconn.send_query_prepared(
                statement[0], [str(param).encode() for c in only_if for param in c.params]
            )

    def conditions_check_only(*, only_if=(), **fields):
        if not only_if:
            return inflight.AuditRowCommitted()
        # wait() is True when one row came back
        return ConditionsCheckInFlight(tuple(only_if))

    oauth.services.audit_record_start = conditions_check_only


_without_the_audit_row()

__all__ = ["application"]
