"""On an empty registry, register the demo: ms_doctor, ms_college and the client ms_admin."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from audit.actor import ACTOR_HELP, Actor, operator_name
from clients.curl import token_request_curl
from clients.models import Service
from clients.services import GrantSpec, ScopeSpec, client_register, service_register
from core.conf import app_settings

# (name, audience, description, scopes)
DEMO_SERVICES = (
    (
        "ms_doctor",
        "https://doctors.internal",
        "Doctors and their schedules",
        (ScopeSpec("doctors:read", "Read doctors"), ScopeSpec("doctors:write", "Change doctors")),
    ),
    (
        "ms_college",
        "https://college.internal",
        "Courses and enrolments",
        (ScopeSpec("college:read", "Read courses"), ScopeSpec("college:write", "Change courses")),
    ),
)


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--actor", help=ACTOR_HELP)

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor(name=operator_name(options["actor"]))
        if Service.objects.exists():
            self.stdout.write("The registry is not empty; no demo data added.")
            return
        with transaction.atomic():
            for name, audience, description, scopes in DEMO_SERVICES:
                service_register(
                    name=name, audience=audience, description=description, scopes=list(scopes), actor=actor
                )
            registered = client_register(
                name="ms_admin", grants=[GrantSpec("ms_doctor", "doctors:read")], actor=actor
            )
        client_id, secret = registered.client.client_id, registered.client_secret
        self.stdout.write(
            self.style.SUCCESS("Demo registered: ms_doctor, ms_college, and client ms_admin (doctors:read).")
        )
        self.stdout.write(f"  client_id:     {client_id}")
        self.stdout.write(f"  client_secret: {secret}   (shown only now)")
        self.stdout.write("Get a token:")
        curl = token_request_curl(
            issuer=app_settings.ISSUER,
            client_id=client_id,
            client_secret=secret,
            resource="https://doctors.internal",
        )
        self.stdout.write(f"  {curl}")
        self.stdout.write("Sign in to the portal after creating your account:")
        self.stdout.write("  .venv/bin/python manage.py create_portal_user YOUR_NAME --role admin")
