"""Register the admin API as a service (audience ISSUER/api, its scopes) unless it is; `make run` runs it."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from api.services import API_SERVICE_NAME, api_audience, api_service_ensure
from audit.actor import ACTOR_HELP, Actor, operator_name


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--actor", help=ACTOR_HELP)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            _, added = api_service_ensure(actor=Actor(name=operator_name(options["actor"])))
        except (ValueError, ValidationError) as exc:
            raise CommandError(str(exc)) from None
        if added:
            names = ", ".join(scope.name for scope in added)
            self.stdout.write(f"Registered {API_SERVICE_NAME} ({api_audience()}) with {names}.")
        else:
            self.stdout.write(f"{API_SERVICE_NAME} ({api_audience()}) is registered.")
