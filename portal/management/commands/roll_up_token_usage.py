"""Roll token issuance up into the dashboard's hourly counts and the grant hints (what beat runs)."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from portal.usage import token_usage_roll_up


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options) -> None:
        rows = token_usage_roll_up(now=timezone.now())
        self.stdout.write(f"Rolled up {rows} token.issued event(s).")
