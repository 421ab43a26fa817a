"""Changes to the registry. Each validates fully, then writes its rows and audit events atomically."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import actor_name, audit_record
from clients.hashers import generate_client_secret
from clients.models import Client, Grant, Scope, Service


@dataclass(frozen=True)
class ScopeSpec:
    name: str
    description: str = ""


@dataclass(frozen=True)
class GrantSpec:
    """`SERVICE:SCOPE` as an operator writes it, e.g. `ms_doctor:doctors:read`."""

    service: str
    scope: str

    @classmethod
    def parse(cls, text: str) -> GrantSpec:
        service, colon, scope = text.partition(":")
        if not colon or not service or not scope:
            raise ValidationError(f"{text!r} is not SERVICE:SCOPE, such as ms_doctor:doctors:read.")
        return cls(service=service, scope=scope)


@dataclass(frozen=True)
class RegisteredClient:
    client: Client
    client_secret: str  # shown once, never stored in the clear


@transaction.atomic
def service_register(
    *,
    name: str,
    audience: str,
    scopes: list[ScopeSpec],
    description: str = "",
    owner_contact: str = "",
    actor: Any = None,
) -> Service:
    service = Service(name=name, audience=audience, description=description, owner_contact=owner_contact)
    service.full_clean()
    service.save()
    audit_record(
        event="service.created",
        actor=actor_name(actor),
        subject=f"service:{service.name}",
        details={"name": service.name, "audience": service.audience},
    )
    names = [spec.name for spec in scopes]
    if len(set(names)) != len(names):
        raise ValidationError("The same scope is listed twice.")
    for spec in scopes:
        scope_add(service=service, name=spec.name, description=spec.description, actor=actor)
    return service


@transaction.atomic
def scope_add(*, service: Service, name: str, description: str = "", actor: Any = None) -> Scope:
    scope = Scope(service=service, name=name, description=description)
    scope.full_clean()
    scope.save()
    audit_record(
        event="scope.created",
        actor=actor_name(actor),
        subject=f"scope:{scope.name}",
        details={"service": service.name, "scope": scope.name},
    )
    return scope


def grant_specs_resolve(specs: list[GrantSpec]) -> list[Scope]:
    """The scopes named by SERVICE:SCOPE pairs, or a ValidationError naming every bad pair."""
    scopes = {
        (scope.service.name, scope.name): scope
        for scope in Scope.objects.select_related("service").filter(name__in=[spec.scope for spec in specs])
    }
    known_services = set(Service.objects.filter(name__in=[spec.service for spec in specs]).values_list("name", flat=True))
    problems = []
    for spec in specs:
        if spec.service not in known_services:
            problems.append(f"There is no service {spec.service!r}.")
        elif (spec.service, spec.scope) not in scopes:
            problems.append(f"The service {spec.service!r} has no scope {spec.scope!r}.")
    if problems:
        raise ValidationError(problems)
    return [scopes[(spec.service, spec.scope)] for spec in dict.fromkeys(specs)]


@transaction.atomic
def client_register(
    *,
    name: str,
    grants: list[GrantSpec],
    service: Service | None = None,
    access_token_lifetime: int | None = None,
    actor: Any = None,
) -> RegisteredClient:
    """Create a confidential client_credentials client with a fresh 256-bit secret."""
    scopes = grant_specs_resolve(grants)
    secret = generate_client_secret()
    client = Client(name=name, service=service, client_secret=secret)
    if access_token_lifetime is not None:
        client.access_token_lifetime = access_token_lifetime
    client.client_type = Client.CLIENT_CONFIDENTIAL
    client.authorization_grant_type = Client.GRANT_CLIENT_CREDENTIALS
    client.full_clean(exclude=["client_secret"])
    client.save()
    audit_record(
        event="client.created",
        actor=actor_name(actor),
        subject=f"client:{client.client_id}",
        details={
            "name": client.name,
            "service": service.name if service else None,
            "access_token_lifetime": client.access_token_lifetime,
        },
    )
    for scope in scopes:
        grant_add(client=client, scope=scope, actor=actor)
    return RegisteredClient(client=client, client_secret=secret)


@transaction.atomic
def grant_add(*, client: Client, scope: Scope, actor: Any = None) -> Grant:
    grant, created = Grant.objects.get_or_create(client=client, scope=scope)
    if created:
        audit_record(
            event="grant.added",
            actor=actor_name(actor),
            subject=f"client:{client.client_id}",
            details={"client": client.name, "service": scope.service.name, "scope": scope.name},
        )
    return grant
