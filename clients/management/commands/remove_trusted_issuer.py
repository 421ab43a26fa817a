"""Stop trusting an outside issuer's user tokens."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.actor import ACTOR_HELP, Actor, operator_name
from clients.models import TrustedIssuer
from clients.services import trusted_issuer_remove


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("issuer", help="The issuer URL, exactly as added")
        parser.add_argument("--actor", help=ACTOR_HELP)

    def handle(self, *args: Any, issuer: str, **options: Any) -> None:
        trusted = TrustedIssuer.objects.filter(issuer=issuer).first()
        if trusted is None:
            raise CommandError(f"No trusted issuer {issuer[:300]!r}.")
        trusted_issuer_remove(trusted_issuer=trusted, actor=Actor(name=operator_name(options["actor"])))
        self.stdout.write(f"No longer trusting {trusted.issuer} (user:{trusted.slug}:…).")
