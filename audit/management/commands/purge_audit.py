"""Delete audit events older than AUTHPORTAL_AUDIT_RETENTION_DAYS, whole checkpoints at a time (what beat
runs daily)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from audit.actor import ACTOR_HELP, operator
from audit.retention import audit_purge, retention_days


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, help=f"Keep this many days instead (default {retention_days()})"
        )
        parser.add_argument("--actor", help=ACTOR_HELP)

    def handle(self, *args: Any, days: int | None, **options: Any) -> None:
        if days is not None and days <= 0:
            raise CommandError("--days must be a positive number of days")
        result = audit_purge(now=timezone.now(), days=days, actor=operator(options["actor"]))
        if result.checkpoint is None:
            self.stdout.write(f"Nothing sealed before {result.cutoff:%Y-%m-%d %H:%M} UTC: nothing purged.")
        else:
            self.stdout.write(
                f"Purged {result.events} events before {result.cutoff:%Y-%m-%d %H:%M} UTC; "
                f"checkpoint {result.checkpoint} stays as the anchor of the chain."
            )
