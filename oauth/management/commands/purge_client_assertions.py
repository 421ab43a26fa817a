"""Delete the spent private_key_jwt jtis whose assertions have expired (what beat runs hourly)."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from oauth.client_assertions import used_client_assertions_purge


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: object, **options: object) -> None:
        deleted = used_client_assertions_purge(now=timezone.now())
        self.stdout.write(f"Purged {deleted} expired client assertion jtis.")
