"""The retention purge deletes whole sealed checkpoints and keeps the boundary one; the rest verifies."""

from __future__ import annotations

from datetime import timedelta

from django.core.management import call_command

from audit.models import AuditCheckpoint, AuditEvent
from audit.retention import audit_purge
from audit.sealing import audit_seal
from audit.verify.database import audit_verify
from keys.tokens import signer_active

from .conftest import T0, write_events

DAY = timedelta(days=1)


def a_sealed_week() -> None:
    for day in range(7):
        write_events(5, start=T0 + day * DAY, step=timedelta(hours=1))
        audit_seal(signer=signer_active(), now=T0 + day * DAY + timedelta(hours=12))


def test_the_purge_keeps_the_chain_verifiable_and_is_itself_audited(signing_key):
    a_sealed_week()
    now = T0 + 403 * DAY
    result = audit_purge(now=now)  # default retention: 400 days, so the first three days go
    assert result.checkpoint == 3 and result.events == 16  # three days and the first key's key.activated
    assert AuditEvent.objects.filter(occurred_at__lt=T0 + 3 * DAY).count() == 0
    assert AuditEvent.objects.filter(event="token.issued").count() == 20
    anchor = AuditCheckpoint.objects.order_by("seq").first()
    assert anchor.seq == 3 and anchor.events_purged_at == now and bytes(anchor.leaves) == b""
    purged = AuditEvent.objects.get(event="audit.purged")
    assert purged.details == {
        "cutoff": "2026-03-04T12:00:00.000000Z",
        "events": 16,
        "checkpoint": 3,
        "head": anchor.head,
    }
    audit_seal(signer=signer_active(), now=now)  # the audit.purged event joins the chain
    report = audit_verify(now=now + DAY)
    assert report.ok, report.problems
    assert report.events == 21


def test_old_events_deleted_without_an_audit_purged_event_are_reported(signing_key, tamper):
    a_sealed_week()
    # An intruder imitating the purge: old rows and checkpoints gone, the boundary one marked purged.
    with tamper():
        AuditEvent.objects.filter(occurred_at__lt=T0 + 3 * DAY).delete()
        AuditCheckpoint.objects.filter(seq__lt=3).delete()
        AuditCheckpoint.objects.filter(seq=3).update(events_purged_at=T0 + 3 * DAY, leaves=b"")
    problems = audit_verify(now=T0 + 8 * DAY).problems
    assert [p.kind for p in problems] == ["deleted"]
    assert "no audit.purged event" in problems[0].message


def test_nothing_younger_than_the_retention_period_is_purged(signing_key):
    a_sealed_week()
    assert audit_purge(now=T0 + 30 * DAY).events == 0
    assert not AuditEvent.objects.filter(event="audit.purged").exists()


def test_purge_audit_command_takes_a_shorter_retention(signing_key, capsys):
    a_sealed_week()
    call_command("purge_audit", "--days", "1")
    assert "checkpoint 7 stays as the anchor" in capsys.readouterr().out
    assert AuditEvent.objects.filter(event="audit.purged", actor__startswith="os:").exists()
