"""Verifying an export with nothing but the file (`verify_audit --file`): no database.

The file is read through audit/export_format.py, the format's one home, which the writer uses too.
"""

from __future__ import annotations

import base64
import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from audit import chain
from audit.export_format import (
    CHECKPOINT,
    EXPORT_FORMAT_NAME,
    HEADER,
    KEY,
    csv_events,
    event_row,
    is_csv,
    records,
    seal_path_for,
)
from audit.verify.report import VerifyReport, chain_link, checkpoint_signed, leaves_match


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
    csv_file = is_csv(path)
    if csv_file:
        seal = seal or seal_path_for(path)
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
    for record in _csv_records(path, seal_of) if seal_of else records(path, events=True):
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
        for record in records(path, events=False):
            if record.get("type") == HEADER:
                header = record
            elif record.get("type") == KEY:
                keys[record["kid"]] = record["jwk"]
            elif record.get("type") == CHECKPOINT:
                raw_seals.append(record)
    except (ValueError, KeyError, UnicodeDecodeError):
        return {}, {}, []
    return header, keys, raw_seals


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
    for record in csv_events(path):
        if isinstance(record.get("id"), int):
            record["checkpoint"] = seal_of(record["id"])
        yield record


def _file_seals(
    raw: list[dict[str, Any]], keys: dict[str, dict[str, Any]], *, complete: bool, report: VerifyReport
) -> dict[int, _FileSeal]:
    seals: dict[int, _FileSeal] = {}
    previous: dict[str, Any] | None = None
    for record in sorted(raw, key=lambda r: r["seq"]):
        kid = chain.jws_kid(record["jws"])
        payload = checkpoint_signed(
            {"seq": record["seq"], "kid": kid, "jws": record["jws"]}, keys.get(kid), report
        )
        if payload is None:
            continue
        report.checkpoints += 1
        if previous is not None and (payload["seq"] == previous["seq"] + 1 or complete):
            chain_link(previous, payload, purged=False, report=report)
        previous = payload
        leaves = base64.b64decode(record.get("leaves") or "")
        if record.get("events_purged") or not leaves_match(payload, leaves, report):
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
    leaf = chain.leaf_hash(event_row(record))
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
