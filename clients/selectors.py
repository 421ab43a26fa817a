"""Reads of the registry, including the two the token endpoint makes on every request."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from clients.hashers import client_secret_matches
from clients.models import Client, Grant, Scope, Service

# Client ids are ours to issue; anything longer or with control characters is not one of them
# and never reaches the database.
CLIENT_ID_MAX_LENGTH = 255


@dataclass(frozen=True)
class GrantedScope:
    name: str
    audience: str


@dataclass(frozen=True)
class AuthenticatedClient:
    pk: int
    client_id: str
    name: str
    access_token_lifetime: int


@dataclass(frozen=True)
class ClientAuthFailure:
    reason: str


def client_authenticate(*, client_id: str, client_secret: str) -> AuthenticatedClient | ClientAuthFailure:
    """Check a client's credentials in constant time: an unknown id costs what a wrong secret costs."""
    row = None
    if 0 < len(client_id) <= CLIENT_ID_MAX_LENGTH and client_id.isprintable():
        row = (
            Client.objects.filter(client_id=client_id)
            .values_list("pk", "name", "client_secret", "enabled", "access_token_lifetime")
            .first()
        )
    if not client_secret_matches(client_secret, row[2] if row else None):
        return ClientAuthFailure("unknown client" if row is None else "wrong client secret")
    pk, name, _, enabled, lifetime = row  # type: ignore[misc]
    if not enabled:
        return ClientAuthFailure("client disabled")
    return AuthenticatedClient(pk=pk, client_id=client_id, name=name, access_token_lifetime=lifetime)


def client_granted_scopes(*, client_pk: int) -> list[GrantedScope]:
    rows = Grant.objects.filter(client_id=client_pk).values_list("scope__name", "scope__service__audience")
    return [GrantedScope(name=name, audience=audience) for name, audience in rows]


def scope_names_all() -> list[str]:
    return list(Scope.objects.order_by("name").values_list("name", flat=True))


def service_list() -> QuerySet[Service]:
    return Service.objects.prefetch_related("scopes")
