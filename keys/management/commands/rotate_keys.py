"""Run the signing-key lifecycle step now (what Celery beat runs); --now rotates at once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from audit.actor import ACTOR_HELP, operator
from keys.services import key_rotate, key_rotate_now


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--now",
            action="store_true",
            help="Emergency rotation: a fresh key signs at once, the previous one stays published as retired",
        )
        parser.add_argument("--actor", help=ACTOR_HELP)

    def handle(self, *args: Any, now: bool, **options: Any) -> None:
        if now:
            key = key_rotate_now(now=timezone.now(), actor=operator(options["actor"]))
            if key.published_at and key.activated_at and key.published_at < key.activated_at:
                origin = f"the staged key, published since {key.published_at:%Y-%m-%d %H:%M:%S} UTC"
            else:
                origin = "a fresh key; verifiers fetch it when its first token names it"
            self.stdout.write(f"Rotated: {key.kid} ({key.algorithm}) signs from now on ({origin}).")
            return
        report = key_rotate(now=timezone.now(), actor=operator(options["actor"]))
        for change in report.changes:
            self.stdout.write(change)
        if not report.changes:
            self.stdout.write("Nothing was due.")
