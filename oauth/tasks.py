from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from oauth.client_assertions import used_client_assertions_purge


@shared_task
def purge_used_client_assertions() -> int:
    return used_client_assertions_purge(now=timezone.now())
