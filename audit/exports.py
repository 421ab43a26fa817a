"""Exporting the audit log as a stream of bytes, in constant memory, for `export_audit` and the portal.

    response = StreamingHttpResponse(
        audit_export_stream(filters=filters, fmt="jsonl", actor=Actor.of_user(request.user, …)),
        content_type=EXPORT_CONTENT_TYPES["jsonl"],
    )
    response["Content-Disposition"] = f'attachment; filename="{export_filename(fmt="jsonl")}"'

The file format (records, CSV cells and their escape, the JSON document) is defined in
audit/export_format.py, which the offline verifier reads it with.
"""

from __future__ import annotations

import base64
import csv
import io
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Func, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from audit import chain
from audit.actor import Actor
from audit.chain import EVENT_COLUMNS
from audit.export_format import (
    CHECKPOINT,
    CSV_PLAIN_COLUMNS,
    EXPORT_FORMAT_NAME,
    EXPORT_VERSION,
    FOOTER,
    FORMATS,
    FORMULA_STARTS,
    HEADER,
    JSON_EVENTS_END,
    KEY,
    SEAL,
    csv_header,
    csv_row,
    event_line,
    json_document_end,
    json_document_start,
    record_line,
)
from audit.models import AuditCheckpoint, AuditEvent
from audit.recording import audit_change
from audit.selectors import AuditFilter
from core.databases import reports_database

# chain.time_canonical's format, in PostgreSQL.
_PG_TIME = """to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
_CHUNK_ROWS = 2000
_FLUSH_BYTES = 1 << 16


def _reports() -> BaseDatabaseWrapper:
    """The database an export reads (core.databases: the replica when one is configured)."""
    return connections[reports_database()]


def _checkpoints() -> QuerySet[AuditCheckpoint]:
    return AuditCheckpoint.objects.using(reports_database())


def audit_export_count(*, filters: AuditFilter) -> int:
    return filters.queryset().count()


def audit_export_stream(
    *,
    filters: AuditFilter,
    fmt: str,
    actor: Actor,
    progress: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """The export as chunks of bytes, oldest event first; records `audit.exported` when it ends.

    Rows come through a server-side cursor in chunks, so memory stays flat whatever the size. The
    `audit.exported` event (who, format, filters, rows, completed) is written when the stream is
    exhausted, or when it is closed early (a client that disconnects), then with completed false.
    """
    if fmt not in (*FORMATS, SEAL):
        raise ValueError(f"format must be one of {', '.join(FORMATS)} or {SEAL}")
    exporter = _Exporter(filters=filters, fmt=fmt, actor=actor.name, progress=progress)
    completed = False
    try:
        yield from exporter.chunks()
        completed = True
    finally:
        audit_change(
            actor=actor,
            event="audit.exported",
            outcome=AuditEvent.Outcome.SUCCESS if completed else AuditEvent.Outcome.FAILURE,
            subject="audit",
            details={
                "format": fmt,
                "filters": filters.as_dict(),
                "rows": exporter.rows,
                "completed": completed,
            },
        )


class _Exporter:
    def __init__(self, *, filters: AuditFilter, fmt: str, actor: str, progress: Callable[[int], None] | None):
        self.filters = filters
        self.fmt = fmt
        self.actor = actor
        self.progress = progress
        self.rows = 0
        self.unsealed = 0
        self.seals: _CheckpointIndex | None = None  # what the JSON formats need, read when they start
        self.started_at = timezone.now()

    def header(self) -> dict[str, Any]:
        sealed_through = _checkpoints().order_by("-seq").values_list("last_id", flat=True).first()
        return {
            "format": EXPORT_FORMAT_NAME,
            "version": EXPORT_VERSION,
            "exported_at": chain.time_canonical(self.started_at),
            "exported_by": self.actor,
            "filters": self.filters.as_dict(),
            "complete_range": self.filters.is_complete_range(),
            "sealed_through": sealed_through or 0,
        }

    def chunks(self) -> Iterator[bytes]:
        if self.fmt == "csv" and _reports().vendor == "postgresql":
            yield from self._csv_copied()
        elif self.fmt == "csv":
            yield from self._buffered(self._csv())
        elif self.fmt == SEAL:
            yield from self._buffered(self._seal_of_csv())
        elif self.fmt == "jsonl":
            yield from self._buffered(self._jsonl())
        else:
            yield from self._buffered(self._json())

    def _buffered(self, pieces: Iterator[str]) -> Iterator[bytes]:
        buffer: list[str] = []
        size = 0
        for piece in pieces:
            buffer.append(piece)
            size += len(piece)
            if size >= _FLUSH_BYTES:
                yield "".join(buffer).encode()
                buffer, size = [], 0
        if buffer:
            yield "".join(buffer).encode()

    def _events(self) -> Iterator[list[Sequence[Any]]]:
        """Rows in EventRow's order (as read: the time maybe as text, details as their stored text)."""
        # details as text: the export copies the stored JSON instead of parsing and re-encoding it. On
        # PostgreSQL the server formats the time too: parsing it into a datetime, then formatting it,
        # costs Python more than all the rest of a row.
        events = self.filters.queryset().order_by("occurred_at", "id")
        events = events.annotate(details_text=Cast("details", TextField()))
        time_column = "occurred_at"
        if _reports().vendor == "postgresql":
            events = events.annotate(
                occurred_text=Func("occurred_at", template=_PG_TIME, output_field=TextField())
            )
            time_column = "occurred_text"
        as_read = {"occurred_at": time_column, "details": "details_text"}
        query = events.values_list(*(as_read.get(name, name) for name in EVENT_COLUMNS))
        if _reports().vendor == "postgresql":
            # As text through COPY: PostgreSQL formats the next rows while Python writes these. (The
            # server-side cursor of iterator() computes the whole result first: 117,488 rows/s against
            # 131,539 through COPY for JSON Lines in bench/audit_export.)
            rows: Iterator[Any] = csv.reader(bytes(data).decode() for data in _copy_out(query))
        else:
            rows = query.iterator(chunk_size=_CHUNK_ROWS)
        chunk: list[Sequence[Any]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) == _CHUNK_ROWS:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _counted(self, count: int) -> None:
        self.rows += count
        if self.progress:
            self.progress(self.rows)

    def _csv(self) -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(csv_header())
        for chunk in self._events():
            writer.writerows(csv_row(row) for row in chunk)
            self._counted(len(chunk))
            yield out.getvalue()
            out.seek(0)
            out.truncate()

    def _csv_copied(self) -> Iterator[bytes]:
        """The same CSV as `_csv`, written by PostgreSQL (COPY … TO STDOUT), csv_cell's escape in SQL.

        Python only passes the bytes on, with RFC 4180's CRLF after each row, and counts the rows:
        PostgreSQL sends each row of a COPY as one CopyData message. The whole export runs about
        twice as fast as through the csv module (bench/audit_export), PostgreSQL's work overlapping Python's.
        """
        # Each column as csv_row writes it: the plain ones as they are (the time in canonical text),
        # every other one through csv_cell's escape (details as its stored text).
        cells: dict[str, Func | str] = {}
        for name in EVENT_COLUMNS:
            if name == "occurred_at":
                cells["csv_occurred_at"] = Func(name, template=_PG_TIME, output_field=TextField())
            elif name == "details":
                cells["csv_details"] = _CsvCell(Cast(name, TextField()))
            elif name not in CSV_PLAIN_COLUMNS:
                cells[f"csv_{name}"] = _CsvCell(name)
        columns = [f"csv_{name}" if f"csv_{name}" in cells else name for name in EVENT_COLUMNS]
        events = self.filters.queryset().order_by("occurred_at", "id").annotate(**cells).values_list(*columns)
        lines = [",".join(csv_header()).encode()]  # each without its line end
        rows = size = 0
        for data in _copy_out(events):
            lines.append(bytes(data[:-1]))
            rows += 1
            size += len(data)
            if size >= _FLUSH_BYTES:
                self._counted(rows)
                yield b"\r\n".join(lines) + b"\r\n"
                lines, rows, size = [], 0, 0
        self._counted(rows)
        if lines:
            yield b"\r\n".join(lines) + b"\r\n"

    def _event_lines(self) -> Iterator[list[str]]:
        self.seals = _CheckpointIndex(self.filters)
        seal = self.seals.seq_of
        for chunk in self._events():
            lines = []
            for row in chunk:
                seq = seal(int(row[0]))
                if seq is None:
                    self.unsealed += 1
                lines.append(event_line(row, seq))
            self._counted(len(chunk))
            yield lines

    def _seal_records(self, checkpoints: Iterator[AuditCheckpoint] | None = None) -> Iterator[dict[str, Any]]:
        keys: dict[str, dict[str, Any]] = {}
        if checkpoints is None:
            assert self.seals is not None, "the events are written before their seals"
            checkpoints = self.seals.touched_checkpoints()
        for checkpoint in checkpoints:
            keys.setdefault(checkpoint.kid, checkpoint.public_jwk)
            yield {
                "type": CHECKPOINT,
                "seq": checkpoint.seq,
                "jws": checkpoint.jws,
                "leaves": base64.b64encode(bytes(checkpoint.leaves)).decode(),
                "events_purged": checkpoint.events_purged_at is not None,
            }
        for kid, jwk in keys.items():
            yield {"type": KEY, "kid": kid, "jwk": jwk}

    def _footer(self) -> dict[str, Any]:
        return {"type": FOOTER, "rows": self.rows, "unsealed": self.unsealed}

    def _jsonl(self) -> Iterator[str]:
        yield record_line({"type": HEADER, **self.header()}) + "\n"
        for lines in self._event_lines():
            yield "\n".join(lines) + "\n"
        for record in self._seal_records():
            yield record_line(record) + "\n"
        yield record_line(self._footer()) + "\n"

    def _seal_of_csv(self) -> Iterator[str]:
        # Every checkpoint whose events' times meet the filter's range: an event lies within its
        # checkpoint's min and max occurred_at, so this covers every event a CSV of the filter holds.
        seqs = list(_checkpoints_meeting(self.filters).order_by("seq").values_list("seq", flat=True))
        yield record_line({"type": HEADER, **self.header(), "seal_for": "csv"}) + "\n"
        # One at a time: a checkpoint carries up to AUTHPORTAL_AUDIT_SEAL_MAX_EVENTS leaves (3.2 MB).
        records = self._seal_records(_checkpoints().get(seq=seq) for seq in seqs)
        for record in records:
            yield record_line(record) + "\n"
        yield record_line({"type": FOOTER, "checkpoints": len(seqs)}) + "\n"

    def _json(self) -> Iterator[str]:
        # The records of the JSON Lines export as one document: {"header", "events", "seals", "footer"}.
        yield json_document_start(self.header())
        separator = "\n"
        for lines in self._event_lines():
            yield separator + ",\n".join(lines)
            separator = ",\n"
        yield JSON_EVENTS_END
        separator = "\n"
        for record in self._seal_records():
            yield separator + record_line(record)
            separator = ",\n"
        yield json_document_end(self._footer())


def _copy_out(query: QuerySet[AuditEvent, Any]) -> Iterator[memoryview]:
    """The rows of `query` as PostgreSQL's COPY … (FORMAT csv) writes them, one row (and line) each.

    Text all through, a NULL as an empty cell. The COPY holds the connection until its last row is
    read, so nothing else may query meanwhile. An iteration closed early (a browser that goes away)
    reads the rest and drops it rather than cancel the COPY: a cancel request can arrive after the
    COPY has ended and cancel the next statement on the connection instead, which is the
    `audit.exported` row. (A server-side cursor, as Django's iterator() uses in autocommit, is WITH
    HOLD: PostgreSQL computes its whole result before the first row, so this costs no more.)
    """
    sql, params = query.query.sql_with_params()
    database = connections[query.db]
    compose_sql = database.ops.compose_sql  # type: ignore[attr-defined]  # PostgreSQL's operations
    statement = f"COPY ({compose_sql(sql, params)}) TO STDOUT (FORMAT csv)"
    with database.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        try:
            yield from copy
        finally:
            for _ in copy:
                pass


class _CsvCell(Func):
    """csv_cell in SQL, for the COPY that writes a CSV export on PostgreSQL.

    An empty string becomes NULL, which COPY writes as nothing, as the csv module does (COPY would
    write `""` for it).
    """

    # The value is named three times, so it must be a column or an expression without parameters.
    template = (
        "CASE WHEN left(%(expressions)s, 1) IN ("
        + ", ".join("'" + start.replace("'", "''") + "'" for start in FORMULA_STARTS)
        + ") THEN '''' || %(expressions)s ELSE NULLIF(%(expressions)s, '') END"
    )
    arity = 1
    output_field = TextField()


class _CheckpointIndex:
    """Which checkpoint seals an event id.

    Read before the events, since the COPY that streams them holds the connection: the checkpoints
    whose events' times meet the filter's range (every event of the export lies in one of them, as a
    checkpoint's min and max occurred_at cover its late ids too), as arrays ordered by last_id.
    """

    def __init__(self, filters: AuditFilter) -> None:
        self._touched: set[int] = set()
        self._sealed_through = _checkpoints().order_by("-seq").values_list("last_id", flat=True).first() or 0
        self._first_ids = array("q")
        self._last_ids = array("q")
        self._seqs = array("q")
        self._gaps: dict[int, list[list[int]]] = {}
        self._late: dict[int, int] = {}  # late ids are rare: a transaction that committed after a seal
        checkpoints = _checkpoints_meeting(filters).order_by("last_id")
        columns = ("first_id", "last_id", "seq", "gaps", "late_ids")
        for first_id, last_id, seq, gaps, late_ids in checkpoints.values_list(*columns).iterator(10_000):
            self._first_ids.append(first_id)
            self._last_ids.append(last_id)
            self._seqs.append(seq)
            if gaps:
                self._gaps[seq] = gaps
            self._late.update(dict.fromkeys(late_ids, seq))

    def seq_of(self, event_id: int) -> int | None:
        if event_id > self._sealed_through:
            return None  # written after the last seal (this export's own snapshot of it)
        at = bisect_left(self._last_ids, event_id)
        if at < len(self._last_ids) and self._first_ids[at] <= event_id:
            gaps = self._gaps.get(self._seqs[at])
            if not (gaps and chain.in_ranges(event_id, gaps)):
                self._touched.add(self._seqs[at])
                return self._seqs[at]
        seq = self._late.get(event_id)
        if seq is not None:
            self._touched.add(seq)
        return seq

    def touched_checkpoints(self) -> Iterator[AuditCheckpoint]:
        # One at a time: a checkpoint carries up to AUTHPORTAL_AUDIT_SEAL_MAX_EVENTS leaves (3.2 MB).
        for seq in sorted(self._touched):
            yield _checkpoints().get(seq=seq)


def _checkpoints_meeting(filters: AuditFilter) -> QuerySet[AuditCheckpoint]:
    """Every checkpoint whose events' times meet the filter's time range."""
    checkpoints = _checkpoints()
    if filters.since is not None:
        checkpoints = checkpoints.filter(max_occurred_at__gte=filters.since)
    if filters.until is not None:
        checkpoints = checkpoints.filter(min_occurred_at__lt=filters.until)
    return checkpoints
