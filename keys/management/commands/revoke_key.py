from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audit.services import ACTOR_HELP, operator_name
from keys.services import KeyNotFound, KeyStateError, key_revoke
from keys.tokens import signer_cache_clear


class Command(BaseCommand):
    help = "Revoke a compromised signing key: out of the JWKS at once, never used again."

    def add_arguments(self, parser) -> None:
        parser.add_argument("kid", help="The key's kid (see list_keys)")
        parser.add_argument("--actor", help=ACTOR_HELP)

    def handle(self, *args, kid: str, **options) -> None:
        try:
            key = key_revoke(kid=kid, now=timezone.now(), actor=operator_name(options["actor"]))
        except (KeyNotFound, KeyStateError) as exc:
            raise CommandError(str(exc)) from None
        signer_cache_clear()
        self.stdout.write(
            f"Revoked {key.kid}. Tokens it signed stop verifying as verifiers refresh the JWKS."
        )
