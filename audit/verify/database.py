"""Re-walking the seal over the database (`verify_audit`): every checkpoint and every event it seals."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from audit import chain
from audit.models import AuditCheckpoint, AuditEvent
from audit.sealing import event_rows, seal_gap_seconds
from audit.verify.report import VerifyReport, chain_link, checkpoint_signed, leaves_match


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
        payload = checkpoint_signed(
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
        chain_link(previous, payload, purged=purged, report=report)
        previous = payload
        if purged:
            anchor = checkpoint
            continue
        if leaves_match(payload, bytes(checkpoint.leaves), report):
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
    rows = event_rows(AuditEvent.objects.filter(in_range | Q(id__in=payload["late_ids"])))
    expected = chain.covered_ids(
        first_id=payload["first_id"],
        last_id=payload["last_id"],
        gaps=payload["gaps"],
        late_ids=payload["late_ids"],
    )
    position = 0
    want = next(expected, None)
    for row in rows:
        event_id = row.id
        assert event_id is not None
        while want is not None and want < event_id:
            report.add(
                "deleted", f"event {want} is sealed by checkpoint {seq} but missing", event_id=want, seq=seq
            )
            position += 1
            want = next(expected, None)
        if want == event_id:
            report.events += 1
            if chain.leaf_hash(row) != leaves[32 * position : 32 * position + 32]:
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
