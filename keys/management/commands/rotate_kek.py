"""Re-encrypt every signing key under AUTHPORTAL_KEK. Set the new KEK as AUTHPORTAL_KEK and the old one as
AUTHPORTAL_KEK_PREVIOUS, run this, restart, then drop AUTHPORTAL_KEK_PREVIOUS."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from audit.actor import ACTOR_HELP, operator
from core.conf import app_settings
from keys.services import kek_rotate


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--actor", help=ACTOR_HELP)

    def handle(self, *args: Any, **options: Any) -> None:
        if not app_settings.KEK_PREVIOUS:
            raise CommandError(
                "AUTHPORTAL_KEK_PREVIOUS is not set: put the old key-encryption key there and the new one in "
                "AUTHPORTAL_KEK."
            )
        try:
            count = kek_rotate(now=timezone.now(), actor=operator(options["actor"]))
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Re-encrypted {count} signing key(s) under the new AUTHPORTAL_KEK.")
