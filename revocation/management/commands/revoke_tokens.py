"""Revoke one access token by its jti, or every token of a client issued until now (a compromised client,
which is then disabled, or given a new secret with --rotate-secret)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from audit.actor import ACTOR_HELP, Actor, operator_name
from clients.models import Client
from revocation.services import THEN_DISABLE, THEN_ROTATE_SECRET, client_tokens_revoke, token_revoke_by_jti


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--jti", help="the jti of the token to revoke")
        which.add_argument(
            "--client", metavar="NAME", help="revoke every token of this client issued until now"
        )
        parser.add_argument(
            "--rotate-secret",
            action="store_true",
            help="with --client: give it a new secret (printed once) instead of disabling it",
        )
        parser.add_argument("--actor", help=ACTOR_HELP)

    def handle(
        self, *args: object, jti: str | None, client: str | None, rotate_secret: bool, **options: Any
    ) -> None:
        actor = Actor(name=operator_name(options["actor"]))
        now = timezone.now()
        try:
            if jti is not None:
                if rotate_secret:
                    raise ValidationError("--rotate-secret goes with --client.")
                record = token_revoke_by_jti(jti=jti, actor=actor, via="command", now=now)
                self.stdout.write(
                    f"Revoked the token {jti} of client {record.client_id} (it would have expired at "
                    f"{record.expires_at:%Y-%m-%d %H:%M:%S} UTC)."
                )
                return
            target = Client.objects.filter(name=client).first()
            if target is None:
                raise ValidationError(f"There is no client {client!r}.")
            then = THEN_ROTATE_SECRET if rotate_secret else THEN_DISABLE
            secret = client_tokens_revoke(client=target, then=then, actor=actor, via="command", now=now)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"Revoked every token of {target.name} issued until now.")
        if secret is None:
            self.stdout.write(f"Disabled {target.name}: it gets no new tokens until it is enabled again.")
        else:
            self.stdout.write(f"New client_secret (shown only now; the old one no longer works): {secret}")
