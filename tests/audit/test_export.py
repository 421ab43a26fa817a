"""Exports: filters, CSV escaping, the audit.exported event, and offline verification of the file."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit.actor import Actor
from audit.export_format import CSV_COLUMNS, csv_cell, csv_cell_value
from audit.exports import _Exporter, audit_export_stream
from audit.models import AuditEvent
from audit.recording import audit_record
from audit.sealing import audit_seal
from audit.selectors import AuditFilter
from audit.verify.file import audit_export_verify
from keys.tokens import signer_active

from .conftest import T0, write_events

DAY = timedelta(days=1)


@pytest.fixture
def three_days(signing_key):
    """Events on 1, 2 and 3 March, from two clients, some refused; each day sealed that evening."""
    for day in range(3):
        write_events(
            4, start=T0 + day * DAY, step=timedelta(hours=1), actor="ms_admin", subject="client:ms_admin"
        )
        write_events(
            2, start=T0 + day * DAY, step=timedelta(hours=2), actor="ms_other", subject="client:ms_other"
        )
        audit_record(
            event="token.denied",
            outcome="failure",
            actor="ms_admin",
            subject="client:ms_admin",
            occurred_at=T0 + day * DAY + timedelta(minutes=30),
            details={"error": "invalid_scope"},
        )
        audit_seal(signer=signer_active(), now=T0 + day * DAY + timedelta(hours=11))


def export(tmp_path, fmt: str = "jsonl", **params) -> tuple[bytes, object]:
    target = tmp_path / f"export.{fmt}"
    body = b"".join(
        audit_export_stream(filters=AuditFilter.from_params(params), fmt=fmt, actor=Actor(name="auditor"))
    )
    target.write_bytes(body)
    return body, target


def event_lines(body: bytes) -> list[dict]:
    return [r for r in map(json.loads, body.decode().splitlines()) if r["type"] == "event"]


def test_an_export_of_one_day_with_filters_holds_exactly_the_matching_events(three_days, tmp_path):
    body, _ = export(
        tmp_path, since="2026-03-02", until="2026-03-03", event="token.issued", client="ms_admin"
    )
    rows = event_lines(body)
    assert len(rows) == 4
    assert {r["event"] for r in rows} == {"token.issued"} and {r["actor"] for r in rows} == {"ms_admin"}
    assert all(r["occurred_at"].startswith("2026-03-02T") for r in rows)
    assert [r["occurred_at"] for r in rows] == sorted(r["occurred_at"] for r in rows)


def test_every_export_is_itself_an_audit_event_saying_who_what_and_how_many(three_days, tmp_path):
    export(tmp_path, fmt="csv", since="2026-03-02", until="2026-03-03", outcome="failure")
    row = AuditEvent.objects.get(event="audit.exported")
    assert row.actor == "auditor" and row.outcome == "success"
    assert row.details == {
        "format": "csv",
        "filters": {
            "since": "2026-03-02T00:00:00+00:00",
            "until": "2026-03-03T00:00:00+00:00",
            "outcome": "failure",
        },
        "rows": 1,
        "completed": True,
    }


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_export_abandoned_half_way_is_recorded_as_incomplete(three_days, fmt):
    write_events(2000, start=T0 + 4 * DAY, details={"padding": "x" * 100})  # more than one chunk
    before = AuditEvent.objects.count()
    stream = audit_export_stream(filters=AuditFilter(), fmt=fmt, actor=Actor(name="auditor"))
    next(stream)
    stream.close()  # what StreamingHttpResponse does when the browser goes away
    row = AuditEvent.objects.get(event="audit.exported")
    assert row.outcome == "failure" and row.details["completed"] is False
    assert AuditEvent.objects.count() == before + 1  # and the connection still works


@pytest.mark.skipif(connection.vendor != "postgresql", reason="exports stream through COPY on PostgreSQL")
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_abandoned_export_sends_no_cancel_request_that_could_hit_the_next_statement(
    three_days, fmt, monkeypatch
):
    # A cancel request travels on a connection of its own and can land after the COPY has ended, on
    # the audit.exported INSERT. The export reads the rest of its COPY instead.
    import psycopg

    cancels = []
    monkeypatch.setattr(psycopg.Connection, "_try_cancel", lambda self, **_: cancels.append(self))
    write_events(5000, start=T0 + 4 * DAY, details={"padding": "x" * 200})  # far beyond one chunk
    stream = audit_export_stream(filters=AuditFilter(), fmt=fmt, actor=Actor(name="auditor"))
    next(stream)
    stream.close()
    assert cancels == []
    assert AuditEvent.objects.get(event="audit.exported").details["completed"] is False


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_a_spreadsheet_would_evaluate_are_escaped(db, start, tmp_path):
    payload = f'{start}HYPERLINK("http://evil","x")'
    audit_record(
        event="token.denied",
        outcome="failure",
        actor=payload,
        subject=f"client:{payload}",
        request_id=payload,
        occurred_at=T0,
        details={"error": "invalid_client"},
    )
    body, _ = export(tmp_path, fmt="csv")
    header, row = list(csv.reader(io.StringIO(body.decode(), newline="")))
    cells = dict(zip(header, row, strict=True))
    assert cells["actor"] == "'" + payload and cells["request_id"] == "'" + payload
    assert cells["subject"] == "client:" + payload  # starts with a letter: left alone
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)


def test_csv_cell_leaves_ordinary_text_alone():
    assert csv_cell("ms_admin") == "ms_admin" and csv_cell("") == "" and csv_cell("-x") == "'-x"


@pytest.mark.parametrize("value", ["ms_admin", "=1+1", "'=1+1", "'", "''x", "-", ""])
def test_csv_escaping_can_be_undone_exactly(value):
    assert csv_cell_value(csv_cell(value)) == value


def export_csv_with_seal(tmp_path, **params):
    body, path = export(tmp_path, fmt="csv", **params)
    seal_body, _ = export(tmp_path, fmt="seal", **params)
    seal = tmp_path / "export.csv.seal.jsonl"
    seal.write_bytes(seal_body)
    return path, seal


def test_a_csv_export_verifies_offline_against_its_seal_file(three_days, tmp_path, django_db_blocker):
    # A cell the export escapes: verification must undo the escape to match the seal.
    formula = "=cmd|' /C calc'!A0"
    audit_record(event="client.updated", actor=formula, subject="client:x", occurred_at=T0 + 3 * DAY)
    audit_seal(signer=signer_active(), now=T0 + 3 * DAY + timedelta(hours=1))
    path, _ = export_csv_with_seal(tmp_path, since="2026-03-01", until="2026-03-05")
    assert "'" + formula in path.read_text()
    with django_db_blocker.block():
        report = audit_export_verify(path=path)
    assert report.ok, report.problems
    assert report.events == 23 and report.checkpoints == 4 and report.unsealed == 0


def test_offline_verification_of_a_csv_catches_an_edited_cell_and_a_removed_row(three_days, tmp_path):
    path, _ = export_csv_with_seal(tmp_path, since="2026-03-01", until="2026-03-03")
    rows = list(csv.reader(io.StringIO(path.read_text(), newline="")))
    original = path.read_text()

    edited = [row[:] for row in rows]
    edited[3][4] = "someone-else"  # the actor of the third event
    write_csv(path, edited)
    assert [(p.kind, p.event_id) for p in audit_export_verify(path=path).problems] == [
        ("altered", int(rows[3][0]))
    ]
    write_csv(path, rows[:5] + rows[6:])
    assert [(p.kind, p.event_id) for p in audit_export_verify(path=path).problems] == [
        ("deleted", int(rows[5][0]))
    ]
    path.write_text(original)
    assert audit_export_verify(path=path).ok


def test_a_csv_without_its_seal_file_does_not_verify(three_days, tmp_path):
    _, path = export(tmp_path, fmt="csv")
    problems = audit_export_verify(path=path).problems
    assert [p.kind for p in problems] == ["checkpoint"] and "seal" in problems[0].message


def write_csv(path, rows) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    path.write_text(out.getvalue(), newline="")


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_an_export_verifies_offline_with_nothing_but_the_file(three_days, tmp_path, fmt, django_db_blocker):
    _, path = export(tmp_path, fmt=fmt, since="2026-03-01", until="2026-03-03")
    if fmt == "json":
        json.loads(path.read_text())  # a valid JSON document
    with django_db_blocker.block():  # no database from here on
        report = audit_export_verify(path=path)
    assert report.ok, report.problems
    assert report.events == 15 and report.checkpoints == 2  # two days, and the first key's key.activated


def test_offline_verification_catches_an_edited_and_a_removed_line(three_days, tmp_path):
    _, path = export(tmp_path, since="2026-03-01", until="2026-03-03")
    lines = path.read_text().splitlines()
    edited = json.loads(lines[3])
    edited["actor"] = "someone-else"
    path.write_text("\n".join([*lines[:3], json.dumps(edited), *lines[4:]]) + "\n")
    assert [(p.kind, p.event_id) for p in audit_export_verify(path=path).problems] == [
        ("altered", edited["id"])
    ]
    removed = json.loads(lines[5])
    path.write_text("\n".join([*lines[:5], *lines[6:]]) + "\n")
    assert [(p.kind, p.event_id) for p in audit_export_verify(path=path).problems] == [
        ("deleted", removed["id"])
    ]


def test_offline_verification_refuses_unsealed_events_unless_told(three_days, tmp_path):
    write_events(1, start=T0 + 5 * DAY)
    _, path = export(tmp_path)
    assert [p.kind for p in audit_export_verify(path=path).problems] == ["unsealed"]
    assert audit_export_verify(path=path, allow_unsealed=True).ok


def test_export_audit_command_writes_the_file_and_verify_audit_checks_it(three_days, tmp_path, capsys):
    target = tmp_path / "march.jsonl"
    call_command(
        "export_audit",
        "--format",
        "jsonl",
        "--since",
        "2026-03-01",
        "--event",
        "token.*",
        "--output",
        str(target),
    )
    assert len(event_lines(target.read_bytes())) == 21
    call_command("verify_audit", "--file", str(target))
    assert "OK" in capsys.readouterr().out
    spreadsheet = tmp_path / "march.csv"
    call_command("export_audit", "--format", "csv", "--since", "2026-03-01", "--output", str(spreadsheet))
    assert (tmp_path / "march.csv.seal.jsonl").is_file()
    call_command("verify_audit", "--file", str(spreadsheet), "--allow-unsealed")
    out = capsys.readouterr().out
    assert "OK" in out and "1 not yet sealed" in out  # the first export's own audit.exported event
    with pytest.raises(CommandError, match="since must be before until"):
        call_command("export_audit", "--since", "2026-03-02", "--until", "2026-03-01")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_line_cut_short_is_reported_not_a_crash(three_days, tmp_path, fmt):
    if fmt == "csv":
        path, _ = export_csv_with_seal(tmp_path)
    else:
        _, path = export(tmp_path)
    lines = path.read_text().splitlines()
    lines[3] = lines[3][:40]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CommandError, match="does NOT verify"):
        call_command("verify_audit", "--file", str(path))


AWKWARD = [
    'a "quoted", comma-separated value',
    "two\nlines\r\nand a CR",
    "'starts with a quote",
    "=SUM(A1:A9)",
    "-1",
    "ünïcødé ✓ 漢字",
    "",
]


@pytest.fixture
def awkward_events(db, signing_key):
    """Events whose text a CSV writer must quote, a spreadsheet escape, and JSON escape; sealed."""
    for index, value in enumerate(AWKWARD):
        audit_record(
            event="client.updated",
            actor=value,
            subject=f"client:{value}",
            request_id=value,
            remote_addr=("2001:db8::1", "10.0.0.1", None)[index % 3],
            occurred_at=T0 + index * timedelta(minutes=1),
            details={"note": value},
        )
    audit_seal(signer=signer_active(), now=T0 + DAY)
    events = AuditEvent.objects.order_by("occurred_at", "id")
    assert events.count() == len(AWKWARD) + 1  # and the signing key's activation
    return list(events)


def test_a_csv_export_of_awkward_values_reads_back_exactly_and_verifies(awkward_events, tmp_path):
    path, _ = export_csv_with_seal(tmp_path)
    header, *rows = csv.reader(io.StringIO(path.read_bytes().decode(), newline=""))
    assert header == list(CSV_COLUMNS)
    assert len(rows) == len(awkward_events)
    for row, event in zip(rows, awkward_events, strict=True):
        cells = dict(zip(header, row, strict=True))
        assert csv_cell_value(cells["actor"]) == event.actor
        assert csv_cell_value(cells["request_id"]) == event.request_id
        assert cells["remote_addr"] == (event.remote_addr or "")
        assert json.loads(csv_cell_value(cells["details"])) == event.details
    assert audit_export_verify(path=path).ok


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_a_json_export_of_awkward_values_reads_back_exactly_and_verifies(awkward_events, tmp_path, fmt):
    body, path = export(tmp_path, fmt=fmt)
    events = json.loads(body)["events"] if fmt == "json" else event_lines(body)
    assert len(events) == len(awkward_events)
    for line, event in zip(events, awkward_events, strict=True):
        assert line["id"] == event.id and line["checkpoint"] == 1
        assert (line["actor"], line["subject"], line["request_id"]) == (
            event.actor,
            event.subject,
            event.request_id,
        )
        assert line["remote_addr"] == event.remote_addr and line["details"] == event.details
    assert audit_export_verify(path=path).ok


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL writes the CSV with COPY")
def test_postgresql_writes_the_same_csv_bytes_as_the_csv_module(db, signing_key):
    for index, value in enumerate(AWKWARD):
        audit_record(event="client.updated", actor=value, subject=value, occurred_at=T0 + index * DAY)
    audit_record(event="token.issued", actor="ms_admin", remote_addr="10.0.0.1", occurred_at=T0)

    def written_by(chunks_of) -> bytes:
        exporter = _Exporter(filters=AuditFilter(), fmt="csv", actor=Actor(name="auditor"), progress=None)
        return b"".join(chunks_of(exporter))

    copied = written_by(lambda exporter: exporter._csv_copied())
    assert copied == written_by(lambda exporter: exporter._buffered(exporter._csv()))
    assert copied.count(b"\r\n") > len(AWKWARD)  # RFC 4180 line ends


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_event_sealed_late_is_exported_with_the_checkpoint_that_sealed_it(
    signing_key, tmp_path, fmt, django_db_blocker
):
    write_events(5)
    base = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    AuditEvent.objects.create(id=base + 100, occurred_at=T0, event="token.issued", outcome="success")
    first = audit_seal(signer=signer_active(), now=T0)[-1]  # the ids between base and base + 100 are a gap
    # A slow transaction commits an id of the gap after that seal: the next checkpoint seals it late.
    AuditEvent.objects.create(id=base + 7, occurred_at=T0, event="client.created", outcome="success")
    (late,) = audit_seal(signer=signer_active(), now=T0 + timedelta(seconds=60))
    assert late.late_ids == [base + 7] and late.seq == first.seq + 1
    if fmt == "csv":
        path, _ = export_csv_with_seal(tmp_path, since="2026-03-01")
    else:
        body, path = export(tmp_path, since="2026-03-01")
        checkpoints = {line["id"]: line["checkpoint"] for line in event_lines(body)}
        assert checkpoints[base + 7] == late.seq and checkpoints[base + 100] == first.seq
    with django_db_blocker.block():
        report = audit_export_verify(path=path)
    assert report.ok, report.problems
    assert report.unsealed == 0


def pretty_printed(path, *, sort_keys: bool = False, ensure_ascii: bool = True) -> None:
    """What `python -m json.tool` (or `--sort-keys`) does to the file: same JSON, another layout."""
    path.write_text(
        json.dumps(json.loads(path.read_text()), indent=2, sort_keys=sort_keys, ensure_ascii=ensure_ascii)
    )


@pytest.mark.parametrize("sort_keys", [False, True], ids=["json.tool", "json.tool --sort-keys"])
def test_a_json_export_reformatted_by_a_pretty_printer_still_verifies_offline(
    three_days, tmp_path, sort_keys, django_db_blocker
):
    # Non-ASCII text too: the pretty-printer writes it as \u escapes.
    audit_record(event="client.updated", actor="zoë", subject="client:x", occurred_at=T0 + 3 * DAY)
    audit_seal(signer=signer_active(), now=T0 + 3 * DAY + timedelta(hours=1))
    _, path = export(tmp_path, fmt="json", since="2026-03-01", until="2026-03-05")
    pretty_printed(path, sort_keys=sort_keys)
    assert path.read_text().count("\n") > 200 and "\\u00eb" in path.read_text()
    with django_db_blocker.block():
        report = audit_export_verify(path=path)
    assert report.ok, report.problems
    assert report.events == 23 and report.checkpoints == 4


def test_a_pretty_printed_json_export_still_catches_an_edited_and_a_removed_event(three_days, tmp_path):
    _, path = export(tmp_path, fmt="json", since="2026-03-01", until="2026-03-03")
    document = json.loads(path.read_text())
    edited = document["events"][3]
    edited["actor"] = "someone-else"
    path.write_text(json.dumps(document, indent=4))
    assert [(p.kind, p.event_id) for p in audit_export_verify(path=path).problems] == [
        ("altered", edited["id"])
    ]
    document = json.loads(path.read_text())
    removed = document["events"].pop(5)
    document["events"][3]["actor"] = "ms_admin"
    path.write_text(json.dumps(document, indent=4))
    assert [(p.kind, p.event_id) for p in audit_export_verify(path=path).problems] == [
        ("deleted", removed["id"])
    ]


def test_a_json_export_cut_short_does_not_verify(three_days, tmp_path):
    body, path = export(tmp_path, fmt="json", since="2026-03-01", until="2026-03-03")
    path.write_bytes(body[: len(body) // 2])
    assert not audit_export_verify(path=path).ok


def test_a_json_lines_export_reads_any_layout_within_each_line(three_days, tmp_path, django_db_blocker):
    # JSON Lines is one value per line by definition; within a line, spacing and key order are free.
    _, path = export(tmp_path, fmt="jsonl", since="2026-03-01", until="2026-03-03")
    lines = [
        json.dumps(json.loads(line), sort_keys=True, indent=None) for line in path.read_text().splitlines()
    ]
    path.write_text("\n".join(lines) + "\n")
    with django_db_blocker.block():
        report = audit_export_verify(path=path)
    assert report.ok, report.problems
    assert report.events == 15
