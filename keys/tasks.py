"""The beat tasks of the keys: the lifecycle step, the JWKS publication, and sealing the audit log."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from audit.sealing import audit_seal
from keys import services


@shared_task
def rotate_keys() -> list[str]:
    return services.key_rotate(now=timezone.now()).changes


@shared_task
def publish_jwks() -> None:
    services.jwks_publish(now=timezone.now())


# Here, not in audit/tasks.py: checkpoints are signed with the active token-signing key, which audit
# (the ground floor) cannot import. The name stays the one beat's stored schedule has run since
# audit/migrations/0004_audit_schedule.py.
@shared_task(name="audit.tasks.seal_audit")
def seal_audit() -> int:
    return len(audit_seal(signer=services.signer_ready(), now=timezone.now()))
