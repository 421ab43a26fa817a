"""verify_audit finds the first altered, inserted or deleted event; on PostgreSQL a trigger refuses edits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from audit.models import AuditCheckpoint, AuditEvent
from audit.retention import audit_purge
from audit.sealing import audit_seal
from audit.verify.database import audit_verify
from keys.tokens import signer_active

from .conftest import T0, write_events

LATER = T0 + timedelta(days=1)  # past the gap window of every checkpoint sealed at T0
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the append-only trigger exists on PostgreSQL only (set DATABASE_URL)",
)


@pytest.fixture
def sealed(signing_key):
    write_events(30)
    checkpoints = audit_seal(signer=signer_active(), now=T0, max_events=10)
    assert [c.event_count for c in checkpoints] == [10, 10, 10, 1]  # 30 and the first key's key.activated
    return AuditEvent.objects.order_by("id")


def make_gap(size: int = 1000) -> tuple[int, int]:
    """Five events, then one `size` ids further on: the ids between are a gap when sealed."""
    write_events(5)
    base = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    far = base + size
    AuditEvent.objects.create(id=far, occurred_at=T0, event="token.issued", outcome="success", details={})
    return base, far


def test_an_untouched_log_verifies(sealed):
    report = audit_verify(now=LATER)
    assert report.ok, report.problems
    assert (report.checkpoints, report.events, report.unsealed) == (4, 31, 0)


def test_events_written_after_the_last_seal_are_unsealed_not_wrong(sealed):
    write_events(3, start=LATER)
    report = audit_verify(now=LATER)
    assert report.ok and report.unsealed == 3
    assert len(audit_seal(signer=signer_active(), now=LATER)) == 1
    assert audit_verify(now=LATER).unsealed == 0


def test_an_edited_row_is_reported_as_altered(sealed, tamper):
    victim = sealed[14]
    with tamper():
        AuditEvent.objects.filter(pk=victim.pk).update(details={"jti": "forged"})
    report = audit_verify(now=LATER)
    assert [(p.kind, p.event_id) for p in report.problems] == [("altered", victim.pk)]


def test_a_deleted_row_is_reported_as_deleted(sealed, tamper):
    victim = sealed[3]
    with tamper():
        AuditEvent.objects.filter(pk=victim.pk).delete()
    report = audit_verify(now=LATER)
    assert [(p.kind, p.event_id) for p in report.problems] == [("deleted", victim.pk)]


def test_a_row_inserted_into_a_sealed_range_is_reported_as_inserted(signing_key):
    base, far = make_gap()
    audit_seal(
        signer=signer_active(), now=T0
    )  # the ids between base and far are a gap: not committed when sealed
    AuditEvent.objects.create(
        id=base + 7, occurred_at=T0, event="client.created", outcome="success", details={}
    )
    report = audit_verify(now=LATER)
    assert [(p.kind, p.event_id) for p in report.problems] == [("inserted", base + 7)]


def test_an_event_committing_late_into_a_gap_is_sealed_by_the_next_checkpoint(signing_key):
    base, far = make_gap()
    first = audit_seal(signer=signer_active(), now=T0)[0]
    assert first.gaps[-1] == [base + 1, far - 1]  # earlier tests' ids may be gaps too (PostgreSQL)
    # A slow transaction commits an id of the gap after the seal, within AUTHPORTAL_AUDIT_GAP_SECONDS.
    AuditEvent.objects.create(
        id=base + 7, occurred_at=T0, event="client.created", outcome="success", details={}
    )
    assert audit_verify(now=T0 + timedelta(seconds=30)).unsealed == 1
    late = audit_seal(signer=signer_active(), now=T0 + timedelta(seconds=60))
    assert [c.late_ids for c in late] == [[base + 7]]
    report = audit_verify(now=LATER)
    assert report.ok, report.problems
    assert report.unsealed == 0


def test_a_checkpoint_row_edited_to_match_an_edit_does_not_verify(sealed, tamper):
    victim = sealed[5]
    checkpoint = AuditCheckpoint.objects.get(seq=1)
    with tamper(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "ALTER TABLE audit_auditcheckpoint DISABLE TRIGGER audit_auditcheckpoint_append_only"
            )
        AuditEvent.objects.filter(pk=victim.pk).update(actor="someone-else")
        AuditCheckpoint.objects.filter(pk=checkpoint.pk).update(head="0" * 64)
    kinds = {p.kind for p in audit_verify(now=LATER).problems}
    assert {"altered", "checkpoint"} <= kinds


def test_verify_audit_exits_non_zero_and_names_the_event(sealed, tamper, capsys):
    victim = sealed[7]
    with tamper():
        AuditEvent.objects.filter(pk=victim.pk).update(outcome="failure")
    with pytest.raises(CommandError) as raised:
        call_command("verify_audit")
    assert raised.value.returncode == 1
    assert f"event {victim.pk} differs" in str(raised.value)
    assert "ALTERED" in capsys.readouterr().out


@postgresql_only
def test_the_trigger_refuses_update_and_delete_from_the_application(sealed):
    victim = sealed[0]
    for change in (
        lambda: AuditEvent.objects.filter(pk=victim.pk).update(actor="x"),
        lambda: AuditEvent.objects.filter(pk=victim.pk).delete(),
        lambda: AuditCheckpoint.objects.filter(seq=1).update(head="0" * 64),
        lambda: AuditCheckpoint.objects.filter(seq=1).delete(),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            change()
    assert AuditEvent.objects.get(pk=victim.pk).actor == victim.actor
    assert audit_verify(now=LATER).ok


@postgresql_only
def test_only_the_purge_passes_the_trigger(sealed):
    result = audit_purge(now=T0 + timedelta(days=401), days=400)
    assert result.events == 31 and result.checkpoint == 4
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.all().delete()  # the purge's permission ended with its own block
