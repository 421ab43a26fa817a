"""An audit row's columns are named once (chain.EventRow): both write paths, the seal and the exports use them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.db import connection

from audit.chain import EVENT_COLUMNS, EventRow
from audit.export_format import CSV_COLUMNS, csv_row, event_line
from audit.models import AuditEvent
from audit.recording import audit_record_start
from audit.rows import insert_fields, insert_text_sql

MOMENT = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def test_the_event_columns_are_the_models_columns():
    # A column added to AuditEvent but not to EventRow (or the reverse) fails here, and in
    # `manage.py check` (audit.E002), before a write path could leave it out.
    assert tuple(field.attname for field in AuditEvent._meta.concrete_fields) == EVENT_COLUMNS


def test_the_token_paths_insert_names_every_column_but_the_id():
    name, sql = insert_text_sql((("registry", "1 = {}", ("bigint",)),))
    columns = sql.decode().split("(", 1)[1].split(")", 1)[0]
    assert [column.strip().strip('"') for column in columns.split(",")] == list(EVENT_COLUMNS[1:])
    assert [field.attname for field in insert_fields()] == list(EVENT_COLUMNS[1:])
    assert name == b"authportal_audit_insert_if_registry"


def test_an_export_line_and_a_csv_row_carry_every_column():
    row = EventRow(7, MOMENT, "token.issued", "success", "a", "client:a", None, "r-1", '{"k":1}')
    record = json.loads(event_line(row, 3))
    assert list(record) == ["type", *EVENT_COLUMNS, "checkpoint"]
    assert len(csv_row(row)) == len(CSV_COLUMNS) == len(EVENT_COLUMNS)


@pytest.mark.django_db(transaction=True)
def test_the_token_path_and_the_inline_path_write_the_same_row():
    fields = {
        "event": "token.issued",
        "actor": "client-a",
        "subject": "client:client-a",
        "remote_addr": "10.0.0.1",
        "request_id": "req-1",
        "details": {"jti": "j", "n": 1},
        "occurred_at": MOMENT,
    }
    # Outside a transaction on PostgreSQL, the in-flight INSERT (audit/inflight.py); elsewhere inline.
    assert audit_record_start(**fields).wait(5)
    from django.db import transaction

    with transaction.atomic():
        assert audit_record_start(**fields).wait(5)
    first, second = (
        {name: value for name, value in row.items() if name != "id"}
        for row in AuditEvent.objects.order_by("id").values(*EVENT_COLUMNS)
    )
    assert first == second
    assert first["remote_addr"] == "10.0.0.1" and first["details"] == {"jti": "j", "n": 1}
    assert connection.vendor != "postgresql" or first["occurred_at"] == MOMENT
