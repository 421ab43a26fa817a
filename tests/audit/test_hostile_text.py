"""A NUL, which PostgreSQL's text and jsonb cannot hold, is stored as ␀ (U+2400), never refused or dropped.

Text without a NUL is stored exactly as given: the six characters `\\u0000` stay six characters.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction

from audit.actor import Actor
from audit.escape import NUL_STORED_AS
from audit.exports import audit_export_stream
from audit.models import AuditEvent
from audit.recording import audit_record
from audit.sealing import audit_seal
from audit.selectors import AuditFilter
from audit.verify.database import audit_verify
from audit.verify.file import audit_export_verify
from keys.tokens import signer_active

from .conftest import T0

LITERAL = "\\u0000"  # a backslash, then u0000: six ordinary characters

HOSTILE_EVENT = {
    "actor": "client\x00-a",
    "subject": "client:client\x00-a",
    "request_id": "req\x00",
    "details": {"reason": "cut\x00here", "nested": ["x\x00", {"key\x00": "\x00"}], "n": 1},
}
STORED_EVENT = {
    "actor": "client␀-a",
    "subject": "client:client␀-a",
    "request_id": "req␀",
    "details": {"reason": "cut␀here", "nested": ["x␀", {"key␀": "␀"}], "n": 1},
}
LITERAL_EVENT = {
    "actor": f"client{LITERAL}-a",
    "subject": f"client:{LITERAL}",
    "request_id": LITERAL,
    "details": {"reason": f"cut{LITERAL}here", LITERAL: [LITERAL]},
}


def stored(event: AuditEvent) -> dict:
    return {name: getattr(event, name) for name in ("actor", "subject", "request_id", "details")}


def test_the_escape_is_the_symbol_for_null():
    assert NUL_STORED_AS == "\u2400" == "␀"


@pytest.fixture(params=["in flight (PostgreSQL, autocommit)", "ORM (in a transaction)"])
def record_by(request, transactional_db) -> Callable[..., None]:
    """`audit_record` on each of its two paths: the in-flight INSERT (autocommit) and the ORM."""
    if request.param.startswith("ORM"):

        def record_in_a_transaction(**event: Any) -> None:
            with transaction.atomic():
                audit_record(**event)

        return record_in_a_transaction
    if connection.vendor != "postgresql":
        pytest.skip("the in-flight INSERT is PostgreSQL's")
    return audit_record


def test_a_nul_in_any_text_of_an_event_is_stored_as_the_symbol_for_null(record_by):
    record_by(event="token.denied", outcome="failure", **HOSTILE_EVENT)
    assert stored(AuditEvent.objects.get()) == STORED_EVENT


def test_the_literal_text_backslash_u0000_is_stored_as_given(record_by):
    record_by(event="token.denied", outcome="failure", **LITERAL_EVENT)
    assert stored(AuditEvent.objects.get()) == LITERAL_EVENT


@pytest.fixture
def hostile_events(db, signing_key):
    for index, fields in enumerate((HOSTILE_EVENT, LITERAL_EVENT)):
        audit_record(
            event="token.denied", outcome="failure", occurred_at=T0 + timedelta(minutes=index), **fields
        )
    audit_seal(signer=signer_active(), now=T0 + timedelta(days=1))
    return AuditEvent.objects.filter(event="token.denied").order_by("id")


def test_escaped_events_are_sealed_and_verify(hostile_events):
    report = audit_verify(now=T0 + timedelta(days=2))
    assert report.ok, report.problems
    assert report.unsealed == 0


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_exports_of_escaped_events_show_the_escape_and_verify_offline(hostile_events, tmp_path, fmt):
    body = b"".join(
        audit_export_stream(filters=AuditFilter.from_params({}), fmt=fmt, actor=Actor(name="auditor"))
    )
    path = tmp_path / f"export.{fmt}"
    path.write_bytes(body)
    if fmt == "csv":
        seal = b"".join(
            audit_export_stream(filters=AuditFilter.from_params({}), fmt="seal", actor=Actor(name="auditor"))
        )
        (tmp_path / f"export.{fmt}.seal.jsonl").write_bytes(seal)
    text = body.decode()
    assert "\x00" not in text
    assert "client␀-a" in text
    if fmt == "jsonl":
        actors = [json.loads(line).get("actor") for line in text.splitlines()]
        assert f"client{LITERAL}-a" in actors
    report = audit_export_verify(path=path)
    assert report.ok, report.problems
