from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from audit import services


@shared_task
def seal_audit() -> int:
    return len(services.audit_seal(now=timezone.now()))


@shared_task
def purge_audit() -> int:
    return services.audit_purge(now=timezone.now()).events
