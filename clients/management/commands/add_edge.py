"""Declare that FROM_SERVICE may call TO_SERVICE on behalf of its callers (RFC 8693 token exchange)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.actor import ACTOR_HELP, Actor, operator_name
from clients.management.commands.create_service import validation_message
from clients.models import Service
from clients.services import ScopeMapping, delegation_edge_add


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("from_service", help="The service that exchanges the tokens sent to it")
        parser.add_argument("to_service", help="The service it calls next")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            dest="mappings",
            metavar="UPSTREAM_SCOPE=DOWNSTREAM_SCOPE",
            help="A scope of FROM_SERVICE the caller's token holds (or @user: a trusted issuer's user "
            "token), and the scope of TO_SERVICE it allows; repeat",
        )
        parser.add_argument("--max-depth", type=int, help="Most actors in a chain on this edge (default 3)")
        parser.add_argument("--description", default="")
        parser.add_argument("--actor", help=ACTOR_HELP)

    def handle(
        self,
        *args: Any,
        from_service: str,
        to_service: str,
        mappings: list[str],
        max_depth: int | None,
        description: str,
        **options: Any,
    ) -> None:
        try:
            edge = delegation_edge_add(
                from_service=_service(from_service),
                to_service=_service(to_service),
                mappings=[ScopeMapping.parse(item) for item in mappings],
                max_depth=max_depth,
                description=description,
                actor=Actor(name=operator_name(options["actor"])),
            )
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from None
        allowed = ", ".join(f"{up}={down}" for up, downs in edge.scope_map.items() for down in downs)
        self.stdout.write(f"Declared {edge.label} (max depth {edge.max_depth}): {allowed}.")


def _service(name: str) -> Service:
    service = Service.objects.filter(name=name).first()
    if service is None:
        raise ValidationError(f"There is no service {name!r}.")
    return service
