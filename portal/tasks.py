from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from portal.usage import token_usage_roll_up


@shared_task
def roll_up_token_usage() -> int:
    return token_usage_roll_up(now=timezone.now())
