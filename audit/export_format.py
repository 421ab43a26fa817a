"""The export file format, defined once: what audit/exports.py writes and audit/verify/file.py reads.

Three formats of events and one of seals, all UTF-8:

- JSON Lines (`jsonl`): one record per line: a header, the events, the checkpoints that seal them,
  the public keys that signed those, a footer. JSON Lines is one JSON value per line by definition,
  so the reader reads it line by line; within a line, any valid JSON layout reads (spacing, key
  order, escapes).
- JSON (`json`): the same records as one document, `{"header": {…}, "events": [event records],
  "seals": [checkpoint and key records], "footer": {…}}`. The writer puts one record on a line, but
  the reader accepts any valid layout (a pretty-printer's, members in any order), streaming it in
  constant memory but for one record.
- CSV (`csv`): a plain spreadsheet of the event columns (`CSV_COLUMNS`), every text cell that a
  spreadsheet would run as a formula escaped with a leading `'` (`csv_cell`); no checkpoints.
- The CSV's seal (`seal`, `<name>.csv.seal.jsonl`): the header (with `"seal_for": "csv"`), the
  checkpoints and keys of the filter's time range, and a footer, as JSON Lines.

Event records carry every column of `chain.EventRow` and the seq of the checkpoint that seals them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from django.utils import timezone

from audit import chain
from audit.chain import EVENT_COLUMNS, EventRow

FORMATS = ("csv", "jsonl", "json")
SEAL = "seal"  # what verifies a CSV export: not a format of events, so not in FORMATS
EXPORT_CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/jsonl; charset=utf-8",
    "json": "application/json",
    SEAL: "application/jsonl; charset=utf-8",
}
EXPORT_FORMAT_NAME = "authportal-audit-export"
EXPORT_VERSION = 1
SEAL_SUFFIX = ".seal.jsonl"

# Record types (the `type` member of each JSON Lines record) and the JSON document's members.
HEADER, EVENT, CHECKPOINT, KEY, FOOTER = "header", "event", "checkpoint", "key", "footer"
JSON_MEMBERS = {"header": HEADER, "events": EVENT, "seals": CHECKPOINT, "footer": FOOTER}

CSV_COLUMNS = EVENT_COLUMNS  # the same columns, in the same order as the hash chain reads them
# Cells that never hold free text, so never a formula: written and read as they are.
CSV_PLAIN_COLUMNS = frozenset({"id", "occurred_at", "remote_addr"})
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")

_compact = json.JSONEncoder(separators=(",", ":")).encode
_string = json.encoder.encode_basestring  # the C encoder, non-ASCII kept


# --- writing -------------------------------------------------------------------------------------------


def export_filename(*, fmt: str, now: datetime | None = None) -> str:
    moment = now or timezone.now()
    if fmt == SEAL:
        return f"audit-{moment:%Y%m%dT%H%M%SZ}.csv{SEAL_SUFFIX}"
    return f"audit-{moment:%Y%m%dT%H%M%SZ}.{fmt}"


def seal_path_for(path: Path) -> Path:
    """Where a CSV's seal is written beside it, and looked for."""
    return path.with_name(path.name + SEAL_SUFFIX)


def csv_cell(value: str) -> str:
    """A text cell no spreadsheet will evaluate: formula-like values get a leading single quote."""
    if value and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_cell_value(cell: str) -> str:
    """The value `csv_cell` escaped."""
    return cell[1:] if cell.startswith("'") else cell


def csv_header() -> list[str]:
    return list(CSV_COLUMNS)


def csv_row(row: Sequence[Any]) -> list[object]:
    """One event's cells, from a row in EventRow's order whose details are the stored JSON text."""
    return [
        _csv_plain(name, value) if name in CSV_PLAIN_COLUMNS else csv_cell(value)
        for name, value in zip(CSV_COLUMNS, row, strict=True)
    ]


def _csv_plain(name: str, value: Any) -> object:
    if name == "occurred_at":
        return time_text(value)
    return "" if value is None else value


def time_text(value: str | datetime) -> str:
    return value if isinstance(value, str) else chain.time_canonical(value)


def record_line(record: dict[str, Any]) -> str:
    """A header, checkpoint, key or footer record, compact, without its line end."""
    return _compact(record)


def event_line(row: Sequence[Any], seq: int | None) -> str:
    """An event record, compact, without its line end, from a row in EventRow's order whose details are
    the stored JSON text.

    Built by hand around the details text, which is copied, never parsed and re-encoded: about a
    third of the export's time otherwise. Every column of EventRow, in its order
    (tests/audit/test_event_columns.py holds the two together).
    """
    event_id, occurred_at, event, outcome, actor, subject, remote_addr, request_id, details = row
    address = _string(remote_addr) if remote_addr else "null"
    return (
        f'{{"type":"event","id":{event_id},"occurred_at":"{time_text(occurred_at)}",'
        f'"event":{_string(event)},"outcome":{_string(outcome)},"actor":{_string(actor)},'
        f'"subject":{_string(subject)},"remote_addr":{address},"request_id":{_string(request_id)},'
        f'"details":{details},"checkpoint":{seq or "null"}}}'
    )


def json_document_start(header: dict[str, Any]) -> str:
    return '{"header":' + _compact(header) + ',\n"events":['


JSON_EVENTS_END = '\n],\n"seals":['


def json_document_end(footer: dict[str, Any]) -> str:
    return '\n],\n"footer":' + _compact(footer) + "}\n"


# --- reading -------------------------------------------------------------------------------------------


def is_csv(path: Path) -> bool:
    with path.open(encoding="utf-8", errors="replace", newline="") as lines:
        return lines.readline().rstrip("\r\n") == ",".join(CSV_COLUMNS)


def event_row(record: dict[str, Any]) -> EventRow:
    """The EventRow an event record holds, to hash against its leaf (a missing member reads as empty)."""
    return EventRow._make(record.get(name, _ABSENT.get(name, "")) for name in EVENT_COLUMNS)


_ABSENT: dict[str, None] = {"id": None, "remote_addr": None, "details": None}


def csv_events(path: Path) -> Iterator[dict[str, Any]]:
    """The CSV's events as records; a row that cannot be read comes out with no id (and is reported)."""
    with path.open(encoding="utf-8", errors="replace", newline="") as lines:
        rows = csv.reader(lines)
        next(rows)
        for row in rows:
            if len(row) != len(CSV_COLUMNS):
                yield {"id": None, "row": ",".join(row)[:80]}
                continue
            record: dict[str, Any] = {}
            try:
                for name, cell in zip(CSV_COLUMNS, row, strict=True):
                    if name == "id":
                        record[name] = int(cell)
                    elif name == "remote_addr":
                        record[name] = cell or None
                    elif name in CSV_PLAIN_COLUMNS:
                        record[name] = cell
                    elif name == "details":
                        record[name] = json.loads(csv_cell_value(cell))
                    else:
                        record[name] = csv_cell_value(cell)
            except ValueError:
                yield {"id": None, "row": ",".join(row)[:80]}
                continue
            yield record


def records(path: Path, *, events: bool) -> Iterator[dict[str, Any]]:
    """The event records (`events`), or else every other record (header, checkpoints, keys, footer).

    A JSON Lines file is read line by line; a JSON document in any layout. What cannot be read comes
    out as an event without an id, which verification reports, or (not `events`) ends the records.
    """
    with path.open(encoding="utf-8", errors="replace") as handle:
        first = handle.readline()
        handle.seek(0)
        try:
            line_record = json.loads(first)
        except ValueError:
            line_record = None
        if isinstance(line_record, dict) and "type" in line_record:
            yield from _json_lines(handle, events=events)
        else:
            yield from _json_document(handle, events=events)


def _json_lines(handle: TextIO, *, events: bool) -> Iterator[dict[str, Any]]:
    for line in handle:
        line = line.strip()
        if not line:
            continue
        # Pass one skips the writer's event lines without parsing them; any other layout is parsed.
        if not events and line.startswith('{"type":"event"'):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if events:
                yield {"type": EVENT, "id": None, "line": line[:80]}
            continue
        if isinstance(record, dict) and (record.get("type") == EVENT) == events:
            yield record


def _json_document(handle: TextIO, *, events: bool) -> Iterator[dict[str, Any]]:
    stream = _JsonStream(handle)
    try:
        for member, value in stream.members():
            kind = JSON_MEMBERS.get(member)
            if not isinstance(value, dict):
                continue
            # An element of "events" is an event, whatever it says; one of "seals" says what it is.
            record = value if kind == CHECKPOINT else {**value, "type": kind}
            if (record.get("type") == EVENT) == events:
                yield record
    except ValueError as exc:
        if events:
            yield {"type": EVENT, "id": None, "line": f"not valid JSON: {exc}"[:80]}


class _JsonStream:
    """The members of one JSON object read from a file in pieces, whatever its layout.

    `members()` yields (name, value) for each member, and (name, element) for each element of a
    member that is an array, so an array of a million events is never held whole. Raises ValueError
    on anything that is not such a document.
    """

    _CHUNK = 1 << 16

    def __init__(self, handle: TextIO) -> None:
        self._handle = handle
        self._buffer = ""
        self._at = 0
        self._eof = False
        self._decoder = json.JSONDecoder()

    def members(self) -> Iterator[tuple[str, Any]]:
        self._expect("{")
        if self._peek() == "}":
            self._at += 1
            return
        while True:
            name = self._value()
            if not isinstance(name, str):
                raise ValueError("a member name must be a string")
            self._expect(":")
            if self._peek() == "[":
                self._at += 1
                if self._peek() == "]":
                    self._at += 1
                else:
                    while True:
                        yield name, self._value()
                        if self._next_of(",]") == "]":
                            break
            else:
                yield name, self._value()
            if self._next_of(",}") == "}":
                break
        if self._peek() != "":
            raise ValueError("data after the document")

    def _fill(self) -> bool:
        """Read more (at least as much again as is held, so that a long value costs linear time)."""
        if self._eof:
            return False
        self._buffer = self._buffer[self._at :]
        self._at = 0
        more = self._handle.read(max(self._CHUNK, len(self._buffer)))
        if not more:
            self._eof = True
            return False
        self._buffer += more
        return True

    def _peek(self) -> str:
        """The next character that is not whitespace, left unread; "" at the end of the file."""
        while True:
            while self._at < len(self._buffer) and self._buffer[self._at] in " \t\r\n":
                self._at += 1
            if self._at < len(self._buffer):
                return self._buffer[self._at]
            if not self._fill():
                return ""

    def _expect(self, character: str) -> None:
        if self._peek() != character:
            raise ValueError(f"expected {character!r}")
        self._at += 1

    def _next_of(self, characters: str) -> str:
        found = self._peek()
        if not found or found not in characters:
            raise ValueError(f"expected one of {characters!r}")
        self._at += 1
        return found

    def _value(self) -> Any:
        self._peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buffer, self._at)
            except json.JSONDecodeError:
                if self._fill():
                    continue
                raise ValueError("a value is cut short or not JSON") from None
            # A number or a literal may go on past what has been read: decode it again with more.
            if end == len(self._buffer) and self._fill():
                continue
            self._at = end
            return value
