"""Re-walking the seal: over the database (`verify_audit`) or over an export file (`verify_audit --file`)."""

from __future__ import annotations

import base64
import bisect
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.db.models import Q
from django.utils import timezone

from audit import chain
from audit.exports import CSV_COLUMNS, EXPORT_FORMAT_NAME, csv_cell_value
from audit.models import AuditCheckpoint, AuditEvent
from audit.services import EVENT_COLUMNS, event_leaf, seal_gap_seconds


@dataclass(frozen=True)
class Finding:
    kind: str  # altered, inserted, deleted, checkpoint, unsealed
    message: str
    event_id: int | None = None
    seq: int | None = None


@dataclass
class VerifyReport:
    checkpoints: int = 0
    events: int = 0
    unsealed: int = 0  # events newer than the last seal: not yet covered by a signature
    problems: list[Finding] = field(default_factory=list)
    limit: int = 20

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def full(self) -> bool:
        return len(self.problems) >= self.limit

    def add(self, kind: str, message: str, *, event_id: int | None = None, seq: int | None = None) -> None:
        if not self.full:
            self.problems.append(Finding(kind, message, event_id, seq))


def _signed(
    checkpoint: dict[str, Any], public_jwk: dict[str, Any] | None, report: VerifyReport
) -> dict | None:
    seq = checkpoint["seq"]
    if public_jwk is None:
        report.add("checkpoint", f"checkpoint {seq}: no public key for kid {checkpoint['kid']!r}", seq=seq)
        return None
    try:
        return chain.checkpoint_verify(checkpoint["jws"], public_jwk=public_jwk)
    except chain.SignatureInvalid as exc:
        report.add("checkpoint", f"checkpoint {seq}: signature does not verify ({exc})", seq=seq)
        return None


def _leaves_match(payload: dict[str, Any], leaves: bytes, report: VerifyReport) -> bool:
    seq = payload["seq"]
    if (
        len(leaves) != 32 * payload["event_count"]
        or chain.chain_head(payload["prev_head"], leaves) != payload["head"]
    ):
        report.add(
            "checkpoint", f"checkpoint {seq}: its stored leaf hashes do not chain to its signed head", seq=seq
        )
        return False
    return True


def _chain_link(
    previous: dict[str, Any] | None, payload: dict[str, Any], *, purged: bool, report: VerifyReport
):
    seq = payload["seq"]
    if previous is None:
        if seq == 1 and payload["prev_head"] != chain.GENESIS:
            report.add("checkpoint", "checkpoint 1 does not start from the genesis head", seq=seq)
        elif seq != 1 and not purged:
            report.add("deleted", f"checkpoints before {seq} are missing (and not purged)", seq=seq)
        return
    if seq != previous["seq"] + 1:
        report.add("deleted", f"checkpoints {previous['seq'] + 1}–{seq - 1} are missing", seq=seq)
    elif payload["prev_head"] != previous["head"] or payload["first_id"] != previous["last_id"] + 1:
        report.add(
            "checkpoint", f"checkpoint {seq} does not chain from checkpoint {previous['seq']}", seq=seq
        )


# --- the database ------------------------------------------------------------------------------------


def audit_verify(*, now: datetime | None = None, limit: int = 20) -> VerifyReport:
    """Re-walk every checkpoint and every event it seals; report altered, inserted and deleted events.

    An event newer than the last checkpoint is counted as unsealed, not as a problem: sealing runs
    behind. So is an id in a gap of a checkpoint sealed less than AUTHPORTAL_AUDIT_GAP_SECONDS ago.
    """
    now = now or timezone.now()
    report = VerifyReport(limit=limit)
    late = _late_map()
    previous: dict[str, Any] | None = None
    anchor: AuditCheckpoint | None = None
    for checkpoint in AuditCheckpoint.objects.order_by("seq").iterator(chunk_size=10):
        if report.full:
            break
        report.checkpoints += 1
        stored = _row_payload(checkpoint)
        payload = _signed(
            {**stored, "kid": checkpoint.kid, "jws": checkpoint.jws}, checkpoint.public_jwk, report
        )
        if payload is None:
            previous = stored
            continue
        if payload != stored:
            fields = sorted(name for name in payload if payload[name] != stored.get(name))
            report.add(
                "checkpoint", f"checkpoint {checkpoint.seq}: row differs from its signature in {fields}"
            )
        purged = checkpoint.events_purged_at is not None
        _chain_link(previous, payload, purged=purged, report=report)
        previous = payload
        if purged:
            anchor = checkpoint
            continue
        if _leaves_match(payload, bytes(checkpoint.leaves), report):
            open_gaps = checkpoint.sealed_at >= now - timedelta(seconds=seal_gap_seconds())
            _events_of(payload, bytes(checkpoint.leaves), late=late, open_gaps=open_gaps, report=report)
    if anchor is not None and not _purge_recorded(anchor.seq):
        report.add(
            "deleted", f"events up to checkpoint {anchor.seq} are gone but no audit.purged event says so"
        )
    sealed_through = previous["last_id"] if previous else 0
    report.unsealed += AuditEvent.objects.filter(id__gt=sealed_through).count()
    return report


def _row_payload(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    return chain.checkpoint_payload(
        seq=checkpoint.seq,
        sealed_at=chain.time_canonical(checkpoint.sealed_at),
        first_id=checkpoint.first_id,
        last_id=checkpoint.last_id,
        gaps=checkpoint.gaps,
        late_ids=checkpoint.late_ids,
        event_count=checkpoint.event_count,
        min_occurred_at=chain.time_canonical(checkpoint.min_occurred_at),
        max_occurred_at=chain.time_canonical(checkpoint.max_occurred_at),
        prev_head=checkpoint.prev_head,
        head=checkpoint.head,
    )


def _late_map() -> dict[int, int]:
    late: dict[int, int] = {}
    for seq, late_ids in AuditCheckpoint.objects.exclude(late_ids=[]).values_list("seq", "late_ids"):
        late.update(dict.fromkeys(late_ids, seq))
    return late


def _events_of(
    payload: dict[str, Any], leaves: bytes, *, late: dict[int, int], open_gaps: bool, report: VerifyReport
) -> None:
    seq = payload["seq"]
    in_range = Q(id__gte=payload["first_id"], id__lte=payload["last_id"])
    rows = (
        AuditEvent.objects.filter(in_range | Q(id__in=payload["late_ids"]))
        .order_by("id")
        .values_list(*EVENT_COLUMNS)
    )
    expected = chain.covered_ids(
        first_id=payload["first_id"],
        last_id=payload["last_id"],
        gaps=payload["gaps"],
        late_ids=payload["late_ids"],
    )
    position = 0
    want = next(expected, None)
    for row in rows.iterator(chunk_size=2000):
        event_id = row[0]
        while want is not None and want < event_id:
            report.add(
                "deleted", f"event {want} is sealed by checkpoint {seq} but missing", event_id=want, seq=seq
            )
            position += 1
            want = next(expected, None)
        if want == event_id:
            report.events += 1
            if event_leaf(row) != leaves[32 * position : 32 * position + 32]:
                report.add(
                    "altered",
                    f"event {event_id} differs from what checkpoint {seq} sealed",
                    event_id=event_id,
                )
            position += 1
            want = next(expected, None)
        elif late.get(event_id, seq) != seq:
            continue  # a late id: the checkpoint that sealed it checks it
        elif open_gaps:
            report.unsealed += 1
        else:
            report.add(
                "inserted",
                f"event {event_id} sits in checkpoint {seq}'s range but was never sealed",
                event_id=event_id,
            )
        if report.full:
            return
    while want is not None and not report.full:
        report.add(
            "deleted", f"event {want} is sealed by checkpoint {seq} but missing", event_id=want, seq=seq
        )
        want = next(expected, None)


def _purge_recorded(seq: int) -> bool:
    for details in AuditEvent.objects.filter(event="audit.purged").values_list("details", flat=True):
        if (
            isinstance(details, dict)
            and isinstance(details.get("checkpoint"), int)
            and details["checkpoint"] >= seq
        ):
            return True
    return False


# --- an export file ------------------------------------------------------------------------------------


@dataclass
class _FileSeal:
    payload: dict[str, Any]
    leaves: bytes
    seen: bytearray


def audit_export_verify(
    *, path: Path, seal: Path | None = None, allow_unsealed: bool = False, limit: int = 20
) -> VerifyReport:
    """Verify an export with nothing but the file (and, for CSV, its seal file): signatures, chain, events.

    Pass one reads the header, checkpoints and keys; pass two checks each event against the leaf its
    checkpoint sealed. In an export of a whole time range (no other filter), an event a checkpoint
    inside that range sealed but the file lacks is reported deleted. A CSV's seal defaults to
    `<path>.seal.jsonl`, as export_audit writes it.
    """
    report = VerifyReport(limit=limit)
    csv_file = _is_csv(path)
    if csv_file:
        seal = seal or path.with_name(path.name + ".seal.jsonl")
        if not seal.is_file():
            report.add("checkpoint", f"a CSV export verifies against its seal file, and {seal} is missing")
            return report
    header, keys, raw_seals = _seal_part(seal if csv_file and seal else path)
    if header.get("format") != EXPORT_FORMAT_NAME or csv_file != (header.get("seal_for") == "csv"):
        report.add("checkpoint", "not an AuthPortal audit export (JSON Lines, JSON, or CSV with its seal)")
        return report
    seals = _file_seals(raw_seals, keys, complete=bool(header.get("complete_range")), report=report)
    sealed_through = int(header.get("sealed_through") or 0)
    seal_of = _SealIndex(seals) if csv_file else None
    for record in _csv_records(path, seal_of) if seal_of else _records(path, events=True):
        report.events += 1
        _file_event(
            record, seals, sealed_through=sealed_through, allow_unsealed=allow_unsealed, report=report
        )
        if report.full:
            return report
    if header.get("complete_range"):
        if seal_of is not None:
            # A CSV's seal covers the filter's whole time range, also checkpoints sealed after the CSV
            # was made: only those between the first and the last the file touches are judged.
            touched = [seq for seq, s in seals.items() if any(s.seen)]
            seals = {seq: s for seq, s in seals.items() if touched and min(touched) <= seq <= max(touched)}
        _file_deletions(seals, header.get("filters") or {}, report)
    return report


def _seal_part(path: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]], list[dict[str, Any]]]:
    header: dict[str, Any] = {}
    keys: dict[str, dict[str, Any]] = {}
    raw_seals: list[dict[str, Any]] = []
    try:
        for record in _records(path, events=False):
            if record.get("type") == "header":
                header = record
            elif record.get("type") == "key":
                keys[record["kid"]] = record["jwk"]
            elif record.get("type") == "checkpoint":
                raw_seals.append(record)
    except (ValueError, KeyError, UnicodeDecodeError):
        return {}, {}, []
    return header, keys, raw_seals


def _is_csv(path: Path) -> bool:
    with path.open(encoding="utf-8", errors="replace", newline="") as lines:
        return lines.readline().rstrip("\r\n") == ",".join(CSV_COLUMNS)


class _SealIndex:
    """Which of the file's checkpoints seals an event id, for a CSV, whose rows do not say."""

    def __init__(self, seals: dict[int, _FileSeal]) -> None:
        self._ranges = sorted((s.payload["first_id"], s.payload["last_id"], seq) for seq, s in seals.items())
        self._firsts = [first for first, _, _ in self._ranges]
        self._late = {i: seq for seq, s in seals.items() for i in s.payload["late_ids"]}
        self._seals = seals

    def __call__(self, event_id: int) -> int | None:
        if event_id in self._late:
            return self._late[event_id]
        index = bisect.bisect_right(self._firsts, event_id) - 1
        if index < 0:
            return None
        first, last, seq = self._ranges[index]
        gaps = self._seals[seq].payload["gaps"]
        if event_id > last or (gaps and chain.in_ranges(event_id, gaps)):
            return None
        return seq


def _csv_records(path: Path, seal_of: _SealIndex) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8", errors="replace", newline="") as lines:
        rows = csv.reader(lines)
        next(rows)
        for row in rows:
            if len(row) != len(CSV_COLUMNS):
                yield {"id": None, "row": ",".join(row)[:80]}
                continue
            event_id, occurred_at, event, outcome, actor, subject, remote_addr, request_id, details = row
            try:
                number: int | None = int(event_id)
                parsed = json.loads(csv_cell_value(details))
            except ValueError:
                yield {"id": None, "row": ",".join(row)[:80]}
                continue
            yield {
                "id": number,
                "occurred_at": occurred_at,
                "event": csv_cell_value(event),
                "outcome": csv_cell_value(outcome),
                "actor": csv_cell_value(actor),
                "subject": csv_cell_value(subject),
                "remote_addr": remote_addr or None,
                "request_id": csv_cell_value(request_id),
                "details": parsed,
                "checkpoint": seal_of(number),
            }


def _file_seals(
    raw: list[dict[str, Any]], keys: dict[str, dict[str, Any]], *, complete: bool, report: VerifyReport
) -> dict[int, _FileSeal]:
    seals: dict[int, _FileSeal] = {}
    previous: dict[str, Any] | None = None
    for record in sorted(raw, key=lambda r: r["seq"]):
        kid = chain.jws_kid(record["jws"])
        payload = _signed({"seq": record["seq"], "kid": kid, "jws": record["jws"]}, keys.get(kid), report)
        if payload is None:
            continue
        report.checkpoints += 1
        if previous is not None and (payload["seq"] == previous["seq"] + 1 or complete):
            _chain_link(previous, payload, purged=False, report=report)
        previous = payload
        leaves = base64.b64decode(record.get("leaves") or "")
        if record.get("events_purged") or not _leaves_match(payload, leaves, report):
            continue
        seals[payload["seq"]] = _FileSeal(payload, leaves, bytearray(payload["event_count"]))
    return seals


def _file_event(
    record: dict[str, Any],
    seals: dict[int, _FileSeal],
    *,
    sealed_through: int,
    allow_unsealed: bool,
    report: VerifyReport,
) -> None:
    event_id = record.get("id")
    seq = record.get("checkpoint")
    if not isinstance(event_id, int):
        report.add("inserted", f"an event without a numeric id: {str(record)[:80]}")
        return
    if seq is None:
        if event_id <= sealed_through:
            report.add(
                "inserted",
                f"event {event_id} is in no checkpoint though older than the last seal",
                event_id=event_id,
            )
        elif not allow_unsealed:
            report.add(
                "unsealed",
                f"event {event_id} is newer than the last seal: nothing vouches for it",
                event_id=event_id,
            )
        report.unsealed += 1
        return
    seal = seals.get(seq)
    if seal is None:
        report.add(
            "checkpoint",
            f"event {event_id} names checkpoint {seq}, which the file lacks or is invalid",
            event_id=event_id,
        )
        return
    p = seal.payload
    position = chain.position_of(
        event_id, first_id=p["first_id"], last_id=p["last_id"], gaps=p["gaps"], late_ids=p["late_ids"]
    )
    if position is None:
        report.add("inserted", f"event {event_id} is not one that checkpoint {seq} sealed", event_id=event_id)
        return
    if seal.seen[position]:
        report.add("inserted", f"event {event_id} appears twice", event_id=event_id)
        return
    seal.seen[position] = 1
    leaf = chain.leaf_hash(
        id=event_id,
        occurred_at=record.get("occurred_at", ""),
        event=record.get("event", ""),
        outcome=record.get("outcome", ""),
        actor=record.get("actor", ""),
        subject=record.get("subject", ""),
        remote_addr=record.get("remote_addr"),
        request_id=record.get("request_id", ""),
        details=record.get("details"),
    )
    if leaf != seal.leaves[32 * position : 32 * position + 32]:
        report.add(
            "altered", f"event {event_id} differs from what checkpoint {seq} sealed", event_id=event_id
        )


def _file_deletions(seals: dict[int, _FileSeal], filters: dict[str, Any], report: VerifyReport) -> None:
    since, until = filters.get("since"), filters.get("until")
    for seq, seal in sorted(seals.items()):
        p = seal.payload
        inside = (since is None or _utc(p["min_occurred_at"]) >= _utc(since)) and (
            until is None or _utc(p["max_occurred_at"]) < _utc(until)
        )
        if not inside or all(seal.seen):
            continue
        ids = chain.covered_ids(
            first_id=p["first_id"], last_id=p["last_id"], gaps=p["gaps"], late_ids=p["late_ids"]
        )
        for position, event_id in enumerate(ids):
            if not seal.seen[position]:
                report.add(
                    "deleted",
                    f"event {event_id} is sealed by checkpoint {seq} but missing from the file",
                    event_id=event_id,
                )
                break


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _records(path: Path, *, events: bool) -> Iterator[dict[str, Any]]:
    """Records of a JSON Lines export, or of a JSON export as written (one record per line).

    Pass one skips event lines without parsing them. A line that is not JSON (cut short, edited by
    hand, not UTF-8) comes out of pass two as an event without an id, which verification reports.
    """
    with path.open(encoding="utf-8", errors="replace") as lines:
        first = lines.readline()
        if first.startswith('{"header":'):
            if not events:
                yield {"type": "header", **json.loads(first[len('{"header":') :].rstrip().rstrip(","))}
        elif first.strip():
            lines.seek(0)
        for line in lines:
            line = line.strip().rstrip(",")
            if not line.startswith("{") or (not events and line.startswith('{"type":"event"')):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                if events:
                    yield {"type": "event", "id": None, "line": line[:80]}
                continue
            if isinstance(record, dict) and (record.get("type") == "event") == events:
                yield record
