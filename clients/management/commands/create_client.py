"""Register the OAuth client of a calling service; prints its secret once."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.actor import ACTOR_HELP, Actor, operator_name
from clients.management.commands.create_service import validation_message
from clients.models import Service
from clients.services import GrantSpec, client_register


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Client name, e.g. ms_admin")
        parser.add_argument(
            "--grant", action="append", default=[], help="SERVICE:SCOPE it may request; repeat"
        )
        parser.add_argument("--service", help="The registered service this client represents, if any")
        parser.add_argument("--lifetime", type=int, help="Access-token lifetime in seconds (60–3600)")
        parser.add_argument(
            "--json", action="store_true", help='End with {"client_id": …, "client_secret": …}'
        )
        keys = parser.add_mutually_exclusive_group()
        keys.add_argument(
            "--jwks", metavar="FILE", help="private_key_jwt: a file with the client's public JWKS"
        )
        keys.add_argument("--jwks-uri", metavar="URL", help="private_key_jwt: the URL of the client's JWKS")
        parser.add_argument("--actor", help=ACTOR_HELP)

    def handle(
        self,
        *args: Any,
        name: str,
        grant: list[str],
        service: str | None,
        lifetime: int | None,
        **options: Any,
    ) -> None:
        try:
            represents = None
            if service:
                represents = Service.objects.filter(name=service).first()
                if represents is None:
                    raise ValidationError(f"There is no service {service!r}.")
            registered = client_register(
                name=name,
                grants=[GrantSpec.parse(item) for item in grant],
                service=represents,
                access_token_lifetime=lifetime,
                jwks=_read_jwks(options["jwks"]) if options["jwks"] else None,
                jwks_uri=options["jwks_uri"] or "",
                actor=Actor(name=operator_name(options["actor"])),
            )
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from None
        client = registered.client
        if client.uses_keys:
            self.stdout.write(f"Registered client {client.name}; it authenticates with private_key_jwt.")
            self.stdout.write(
                json.dumps({"client_id": client.client_id})
                if options["json"]
                else f"client_id: {client.client_id}"
            )
            return
        if options["json"]:
            self.stdout.write(f"Registered client {client.name}.")
            self.stdout.write(
                json.dumps({"client_id": client.client_id, "client_secret": registered.client_secret})
            )
            return
        self.stdout.write(f"Registered client {client.name}.")
        self.stdout.write(f"client_id:     {client.client_id}")
        self.stdout.write(f"client_secret: {registered.client_secret}")
        self.stdout.write("The secret is shown only now; it is stored hashed.")


def _read_jwks(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as file:
            return file.read(256 * 1024)
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"Cannot read the JWKS file {path}: {error}") from None
