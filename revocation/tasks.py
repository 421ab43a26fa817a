from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from revocation.services import revocations_purge


@shared_task
def purge_revocations() -> int:
    return revocations_purge(now=timezone.now())
