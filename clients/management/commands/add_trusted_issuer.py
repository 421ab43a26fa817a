"""Trust an outside issuer's user tokens for token exchange (RFC 8693): its users get tokens whose sub is
user:<slug>:<user id>."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.actor import ACTOR_HELP, Actor, operator_name
from clients.external_subjects import ALLOWED_ALGORITHMS, DEFAULT_ALGORITHMS, JWKS_MAX_BYTES
from clients.management.commands.create_service import validation_message
from clients.services import trusted_issuer_add


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("issuer", help="The iss of its tokens, exactly, e.g. https://login.example.com")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--jwks-uri", help="Its JWKS URL: https (http only on loopback)")
        source.add_argument("--jwks-file", help="A JWKS file, stored now (remove and add again to change it)")
        parser.add_argument("--audience", required=True, help="Its tokens' aud must contain this")
        parser.add_argument("--user-claim", default="sub", help="The claim holding the user id (default sub)")
        parser.add_argument(
            "--algorithm",
            action="append",
            choices=ALLOWED_ALGORITHMS,
            help=f"An algorithm its tokens may use; repeat (default {' and '.join(DEFAULT_ALGORITHMS)})",
        )
        parser.add_argument(
            "--slug", default="", help="Names it in sub (default: the issuer's host, e.g. login-example-com)"
        )
        parser.add_argument("--actor", help=ACTOR_HELP)

    def handle(
        self, *args: Any, issuer: str, jwks_uri: str | None, jwks_file: str | None, **options: Any
    ) -> None:
        jwks = read_jwks_file(jwks_file) if jwks_file else None
        try:
            trusted = trusted_issuer_add(
                issuer=issuer,
                audience=options["audience"],
                jwks_uri=jwks_uri or "",
                jwks=jwks,
                user_claim=options["user_claim"],
                algorithms=options["algorithm"],
                slug=options["slug"],
                actor=Actor(name=operator_name(options["actor"])),
            )
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from None
        source = trusted.jwks_uri or f"the JWKS of {jwks_file}"
        self.stdout.write(
            f"Trusted {trusted.issuer}: keys from {source}, audience {trusted.audience}, "
            f"algorithms {' '.join(trusted.algorithms)}; its users' subject is "
            f"user:{trusted.slug}:<{trusted.user_claim}>."
        )


def read_jwks_file(name: str) -> dict[str, Any]:
    path = Path(name)
    try:
        with path.open("rb") as file:
            data = file.read(JWKS_MAX_BYTES + 1)
    except OSError as exc:
        raise CommandError(f"Cannot read the JWKS file {name}: {exc.strerror or exc}.") from None
    if len(data) > JWKS_MAX_BYTES:
        raise CommandError(f"The JWKS file {name} is larger than {JWKS_MAX_BYTES} bytes.")
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise CommandError(f"The JWKS file {name} is not JSON.") from None
    if not isinstance(document, dict):
        raise CommandError(f'The JWKS file {name} is not a JWKS: a JSON object with a "keys" array.')
    return document
