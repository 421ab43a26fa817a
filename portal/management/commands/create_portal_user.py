"""Create a portal user. The password comes from AUTHPORTAL_PASSWORD, or is asked for."""

from __future__ import annotations

import getpass
import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from audit.actor import ACTOR_HELP, Actor, operator_name
from portal.roles import GROUP_NAMES
from portal.services import portal_user_create


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=sorted(GROUP_NAMES))
        parser.add_argument("--actor", help=ACTOR_HELP)

    def handle(self, *args, username: str, role: str, **options) -> None:
        password = os.environ.get("AUTHPORTAL_PASSWORD")
        if password is None:
            if not options.get("interactive", True) or not os.isatty(0):
                raise CommandError("Set AUTHPORTAL_PASSWORD or run this command in a terminal to be asked.")
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords differ.")
        try:
            portal_user_create(
                username=username,
                role=role,
                password=password,
                actor=Actor(name=operator_name(options["actor"])),
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"Created {role} {username}.")
