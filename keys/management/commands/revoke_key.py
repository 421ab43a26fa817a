"""Revoke a compromised signing key: out of the JWKS at once, never used again."""

from __future__ import annotations

import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from audit.actor import ACTOR_HELP, operator
from keys.services import KeyNotFound, KeyStateError, key_revoke


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kid", help="The key's kid (see list_keys)")
        # A kid is a base64url thumbprint, and one in 64 starts with '-': argparse would take it for an
        # option and say the kid is missing. It reads an argument that matches this as a value, as it
        # does a negative number (no option of this command looks like one).
        parser._negative_number_matcher = re.compile(r"^-[A-Za-z0-9_-]{16,}$")
        parser.add_argument("--actor", help=ACTOR_HELP)

    def handle(self, *args: Any, kid: str, **options: Any) -> None:
        try:
            key = key_revoke(kid=kid, now=timezone.now(), actor=operator(options["actor"]))
        except (KeyNotFound, KeyStateError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Revoked {key.kid}. Tokens it signed stop verifying as verifiers refresh the JWKS."
        )
