"""Sealing: chaining the events written since the last checkpoint and signing the new checkpoint.

The signer is passed in (`chain.CheckpointSigner`): the active token-signing key, which the caller
(keys/tasks.py, the `seal_audit` command) holds. Audit imports no app of ours.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit import chain
from audit.chain import EVENT_COLUMNS, CheckpointSigner, EventRow
from audit.models import AuditCheckpoint, AuditEvent
from core.conf import app_settings

_SEAL_LOCK = 0x41554454  # "AUDT": one sealer at a time on PostgreSQL (the unique seq is the backstop)


def seal_max_events() -> int:
    return app_settings.AUDIT_SEAL_MAX_EVENTS


def seal_gap_seconds() -> int:
    return app_settings.AUDIT_GAP_SECONDS


def audit_seal(
    *, signer: CheckpointSigner, now: datetime | None = None, max_events: int | None = None
) -> list[AuditCheckpoint]:
    """Seal every committed event not yet sealed into checkpoints signed by `signer`, oldest first.

    Never blocks token issuance: it only reads events and writes checkpoints. Ids are taken from a
    sequence before commit, so a transaction can commit id 100 after id 101 was sealed: an id missing
    when sealed is recorded as a gap, and a gap that fills within AUTHPORTAL_AUDIT_GAP_SECONDS (a slow
    transaction) is sealed by a later checkpoint as a late id. Safe to run from two workers at once.
    """
    sealed: list[AuditCheckpoint] = []
    while True:
        checkpoint = _seal_one(
            signer=signer, now=now or timezone.now(), max_events=max_events or seal_max_events()
        )
        if checkpoint is None:
            return sealed
        sealed.append(checkpoint)


def event_rows(events: QuerySet[AuditEvent]) -> Iterator[EventRow]:
    """The events as EventRows, in id order, read in chunks: what sealing hashes and verification re-hashes."""
    return map(EventRow._make, events.order_by("id").values_list(*EVENT_COLUMNS).iterator(chunk_size=2000))


@transaction.atomic
def _seal_one(*, signer: CheckpointSigner, now: datetime, max_events: int) -> AuditCheckpoint | None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SEAL_LOCK])
    last = AuditCheckpoint.objects.order_by("-seq").defer("leaves").first()
    high = last.last_id if last else 0
    late_rows = list(event_rows(_late_candidates(now=now)))
    new_rows = event_rows(AuditEvent.objects.filter(id__gt=high))
    leaves = bytearray()
    gap_ids: list[int] = []
    count = 0
    min_at: datetime | None = None
    max_at: datetime | None = None
    last_id = high
    for row in _chain_rows(late_rows, new_rows, limit=max_events):
        event_id, occurred_at = row.id, row.occurred_at
        assert event_id is not None and isinstance(occurred_at, datetime)
        if event_id > high:
            gap_ids.extend(range(last_id + 1, event_id))
            last_id = event_id
        leaves += chain.leaf_hash(row)
        count += 1
        min_at = occurred_at if min_at is None or occurred_at < min_at else min_at
        max_at = occurred_at if max_at is None or occurred_at > max_at else max_at
    if count == 0 or min_at is None or max_at is None:
        return None
    prev_head = last.head if last else chain.GENESIS
    head = chain.chain_head(prev_head, bytes(leaves))
    seq = (last.seq + 1) if last else 1
    gaps = chain.ranges_from_ids(gap_ids)
    late_ids = [row.id for row in late_rows if row.id is not None]
    payload = chain.checkpoint_payload(
        seq=seq,
        sealed_at=chain.time_canonical(now),
        first_id=high + 1,
        last_id=last_id,
        gaps=gaps,
        late_ids=late_ids,
        event_count=count,
        min_occurred_at=chain.time_canonical(min_at),
        max_occurred_at=chain.time_canonical(max_at),
        prev_head=prev_head,
        head=head,
    )
    return AuditCheckpoint.objects.create(
        seq=seq,
        sealed_at=now,
        first_id=high + 1,
        last_id=last_id,
        gaps=gaps,
        late_ids=late_ids,
        event_count=count,
        min_occurred_at=min_at,
        max_occurred_at=max_at,
        prev_head=prev_head,
        head=head,
        leaves=bytes(leaves),
        kid=signer.kid,
        public_jwk=signer.public_jwk,
        jws=chain.checkpoint_sign(payload, signer=signer),
    )


def _chain_rows(late_rows: list[EventRow], new_rows: Iterable[EventRow], *, limit: int) -> Iterator[EventRow]:
    # Late ids are all below first_id, so late rows then new rows is ascending id order.
    yield from late_rows
    for index, row in enumerate(new_rows):
        if index >= limit:
            return
        yield row


def _late_candidates(*, now: datetime) -> QuerySet[AuditEvent]:
    """Events that committed into a recent checkpoint's gap."""
    recent = AuditCheckpoint.objects.filter(sealed_at__gte=now - timedelta(seconds=seal_gap_seconds()))
    gaps: list[list[int]] = []
    already: set[int] = set()
    for checkpoint_gaps, late_ids in recent.values_list("gaps", "late_ids"):
        gaps.extend(checkpoint_gaps)
        already.update(late_ids)
    if not gaps:
        return AuditEvent.objects.none()
    in_gaps = Q()
    for lo, hi in gaps:
        in_gaps |= Q(id__gte=lo, id__lte=hi)
    return AuditEvent.objects.filter(in_gaps).exclude(id__in=already)
