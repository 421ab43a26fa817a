"""The audit log's beat task. Sealing's task is keys.tasks.seal_audit: it holds the signer."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from audit.retention import audit_purge


@shared_task
def purge_audit() -> int:
    return audit_purge(now=timezone.now()).events
