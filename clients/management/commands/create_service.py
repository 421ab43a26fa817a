"""Register a service (an audience) and its scopes."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.actor import ACTOR_HELP, Actor, operator_name
from clients.services import ScopeSpec, service_register


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Service name, e.g. ms_doctor")
        parser.add_argument("--audience", required=True, help="Absolute URI, e.g. https://doctors.internal")
        parser.add_argument("--scope", action="append", default=[], help="A scope of this service; repeat")
        parser.add_argument("--description", default="")
        parser.add_argument("--owner", default="", help="Who to contact about this service")
        parser.add_argument("--actor", help=ACTOR_HELP)

    def handle(
        self,
        *args: Any,
        name: str,
        audience: str,
        scope: list[str],
        description: str,
        owner: str,
        **options: Any,
    ) -> None:
        try:
            service = service_register(
                name=name,
                audience=audience,
                scopes=[ScopeSpec(name=item) for item in scope],
                description=description,
                owner_contact=owner,
                actor=Actor(name=operator_name(options["actor"])),
            )
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from None
        scopes = ", ".join(service.scopes.values_list("name", flat=True)) or "no scopes"
        self.stdout.write(f"Registered service {service.name} ({service.audience}) with {scopes}.")


def validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return " ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
    return " ".join(exc.messages)
