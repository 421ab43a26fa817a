"""Withdraw the declared call FROM_SERVICE -> TO_SERVICE; the next exchange along it is refused."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.actor import ACTOR_HELP, Actor, operator_name
from clients.models import DelegationEdge
from clients.services import delegation_edge_remove


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("from_service")
        parser.add_argument("to_service")
        parser.add_argument("--actor", help=ACTOR_HELP)

    def handle(self, *args: Any, from_service: str, to_service: str, **options: Any) -> None:
        edge = (
            DelegationEdge.objects.select_related("from_service", "to_service")
            .filter(from_service__name=from_service, to_service__name=to_service)
            .first()
        )
        if edge is None:
            raise CommandError(f"There is no edge {from_service} -> {to_service}.")
        delegation_edge_remove(edge=edge, actor=Actor(name=operator_name(options["actor"])))
        self.stdout.write(f"Removed {from_service}->{to_service}.")
