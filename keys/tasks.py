from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from keys import services


@shared_task
def rotate_keys() -> list[str]:
    return services.key_rotate(now=timezone.now()).changes


@shared_task
def publish_jwks() -> None:
    services.jwks_publish(now=timezone.now())
