"""The audit row's INSERT, built once from its columns (`chain.EventRow`) for both write paths.

The inline path (audit/recording.py) binds Django-prepared values with `%s`; the in-flight path
(audit/inflight.py) sends every value as text with libpq, `$n` cast to its column's type. Both name
every column of EventRow after the id, so a new column is written by both or the build fails.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Field

from audit.chain import EVENT_COLUMNS, EventRow
from audit.escape import details_json
from audit.models import AuditEvent


@dataclass(frozen=True)
class RowCondition:
    """A condition the row is written under, decided by its INSERT in its own snapshot.

    Made by the app that owns what it checks (`clients.selectors.registry_unchanged`,
    `keys.selectors.signing_key_usable`) and passed in, so that audit imports no app of ours. `sql`
    holds `{}` where each parameter goes, in order, and `casts` the PostgreSQL type of each (the
    in-flight INSERT sends text). `name` names the prepared statement: one name, one SQL.
    """

    name: str
    sql: str
    params: tuple[str | int, ...]
    casts: tuple[str, ...]


# The PostgreSQL type each kind of column is sent as, in text, by the in-flight INSERT. A column of a
# kind not listed here stops the build (KeyError) rather than be left out of the token's row.
_TEXT_CASTS = {
    "DateTimeField": "timestamptz",
    "CharField": "text",
    "GenericIPAddressField": "inet",
    "JSONField": "jsonb",
}


@functools.cache
def insert_fields() -> tuple[Field[Any, Any], ...]:
    """AuditEvent's fields for the columns after the id, in EventRow's order: what an INSERT writes."""
    return tuple(AuditEvent._meta.get_field(name) for name in EVENT_COLUMNS[1:])  # type: ignore[misc]


def is_json(field: Field[Any, Any]) -> bool:
    return field.get_internal_type() == "JSONField"


def _columns() -> str:
    return ", ".join(
        connection.ops.quote_name(field.get_attname_column()[1] or "") for field in insert_fields()
    )


def _table() -> str:
    return connection.ops.quote_name(AuditEvent._meta.db_table)


@functools.cache
def insert_sql() -> str:
    """The inline INSERT, `%s` for each column after the id."""
    placeholders = ", ".join(["%s"] * len(insert_fields()))
    return f"INSERT INTO {_table()} ({_columns()}) VALUES ({placeholders})"  # noqa: S608


@functools.cache
def insert_conditional_sql(conditions: tuple[tuple[str, int], ...]) -> str:
    """The inline INSERT written only where every condition holds: (sql, how many parameters) each."""
    # INSERT … SELECT resolves untyped parameters as text: on PostgreSQL each is cast to its column.
    cast = connection.vendor == "postgresql"
    values = ", ".join(f"%s::{field.db_type(connection)}" if cast else "%s" for field in insert_fields())
    where = " AND ".join(sql.format(*["%s"] * count) for sql, count in conditions)
    return f"INSERT INTO {_table()} ({_columns()}) SELECT {values} WHERE {where}"  # noqa: S608


@functools.cache
def insert_text_sql(conditions: tuple[tuple[str, str, tuple[str, ...]], ...]) -> tuple[bytes, bytes]:
    """The in-flight INSERT, each value `$n` in text cast to its column: (statement name, SQL).

    `conditions`: (name, sql, casts) each, their parameters numbered after the row's.
    """
    fields = insert_fields()
    values = ", ".join(f"${n}::{_TEXT_CASTS[field.get_internal_type()]}" for n, field in enumerate(fields, 1))
    sql = f"INSERT INTO {_table()} ({_columns()}) SELECT {values}"  # noqa: S608
    number = len(fields)
    where = []
    for _, condition, casts in conditions:
        placeholders = [f"${number + i}::{cast}" for i, cast in enumerate(casts, 1)]
        number += len(casts)
        where.append(condition.format(*placeholders))
    if where:
        sql += " WHERE " + " AND ".join(where)
    name = "authportal_audit_insert" + ("_if_" + "_and_".join(c[0] for c in conditions) if conditions else "")
    return name.encode(), sql.encode()


def text_params(row: EventRow) -> list[bytes | None]:
    """The values of the columns after the id, as the text the in-flight INSERT sends."""
    # PostgreSQL's text and jsonb cannot hold a NUL: audit_record_start has escaped the text columns,
    # and the details are escaped as they are serialized (audit/escape.py).
    return [_text(field, value) for field, value in zip(insert_fields(), row[1:], strict=True)]


def _text(field: Field[Any, Any], value: Any) -> bytes | None:
    if value is None or value == "" and field.null:
        return None
    if is_json(field):
        return details_json(value).encode()
    if field.get_internal_type() == "DateTimeField":
        return value.isoformat().encode()  # type: ignore[no-any-return]
    return str(value).encode()
