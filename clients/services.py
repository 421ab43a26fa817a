"""Changes to the registry. Each validates fully, then writes its rows and audit events atomically."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from audit.actor import SYSTEM, Actor
from clients.changes import client_change_record, registry_change_record, registry_row_save
from clients.client_keys import client_jwks_check, client_jwks_uri_check, client_keys
from clients.external_subjects import (
    ALLOWED_ALGORITHMS,
    DEFAULT_ALGORITHMS,
    jwks_public_keys,
    trusted_issuer_url_check,
)
from clients.hashers import generate_client_secret
from clients.models import USERS_UPSTREAM, Client, DelegationEdge, Grant, Scope, Service, TrustedIssuer
from core.conf import app_settings


@dataclass(frozen=True)
class ScopeSpec:
    name: str
    description: str = ""


@dataclass(frozen=True)
class _OperatorPair:
    """Two non-empty parts of what an operator wrote, split at the first `separator` of the subclass."""

    _separator: ClassVar[str]
    _form: ClassVar[str]

    def __init_subclass__(cls, *, separator: str, form: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._separator, cls._form = separator, form

    @classmethod
    def parse(cls, text: str) -> Self:
        left, found, right = text.partition(cls._separator)
        if not found or not left or not right:
            raise ValidationError(f"{text!r} is not {cls._form}.")
        return cls(left, right)  # type: ignore[call-arg]  # each subclass has exactly these two fields


@dataclass(frozen=True)
class GrantSpec(_OperatorPair, separator=":", form="SERVICE:SCOPE, such as ms_doctor:doctors:read"):
    """`SERVICE:SCOPE` as an operator writes it, e.g. `ms_doctor:doctors:read`."""

    service: str
    scope: str


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
    actor: Actor = SYSTEM,
) -> Service:
    service = Service(name=name, audience=audience, description=description, owner_contact=owner_contact)
    registry_row_save(
        service, "service.created", {"name": service.name, "audience": service.audience}, actor=actor
    )
    scopes_add(service=service, specs=scopes, actor=actor)
    return service


@transaction.atomic
def scopes_add(*, service: Service, specs: list[ScopeSpec], actor: Actor = SYSTEM) -> list[Scope]:
    """Add scopes to a service, all or none. Errors name each scope, under `scopes`."""
    names = [spec.name for spec in specs]
    problems = [f"{name} is listed twice." for name in dict.fromkeys(names) if names.count(name) > 1]
    owners = dict(Scope.objects.filter(name__in=names).values_list("name", "service__name"))
    problems += [
        f"The scope {name} exists already, on {owners[name]}: scope names are unique across services."
        for name in dict.fromkeys(names)
        if name in owners
    ]
    if problems:
        raise ValidationError({"scopes": problems})
    return [
        scope_add(service=service, name=spec.name, description=spec.description, actor=actor)
        for spec in specs
    ]


@transaction.atomic
def scope_add(*, service: Service, name: str, description: str = "", actor: Actor = SYSTEM) -> Scope:
    scope = Scope(service=service, name=name, description=description)
    registry_row_save(scope, "scope.created", {"service": service.name, "scope": scope.name}, actor=actor)
    return scope


def grant_specs_resolve(specs: list[GrantSpec]) -> list[Scope]:
    """The scopes named by SERVICE:SCOPE pairs, or a ValidationError naming every bad pair."""
    scopes = {
        (scope.service.name, scope.name): scope
        for scope in Scope.objects.select_related("service").filter(name__in=[spec.scope for spec in specs])
    }
    known_services = set(
        Service.objects.filter(name__in=[spec.service for spec in specs]).values_list("name", flat=True)
    )
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
    jwks: dict[str, Any] | str | None = None,
    jwks_uri: str = "",
    actor: Actor = SYSTEM,
) -> RegisteredClient:
    """Create a confidential client_credentials client with a fresh 256-bit secret, or, given `jwks` or
    `jwks_uri`, one that authenticates with private_key_jwt (`clients.client_keys`): then no secret
    is shown (`client_secret` is ""), and the one stored is random and never used."""
    scopes = grant_specs_resolve(grants)
    if jwks is not None and jwks_uri:
        raise ValidationError("Register either a JWKS or a JWKS URL, not both.")
    keys = _checked("jwks", client_jwks_check, jwks) if jwks is not None else None
    uri = _checked("jwks_uri", client_jwks_uri_check, jwks_uri) if jwks_uri else ""
    secret = generate_client_secret()
    client = Client(name=name, service=service, client_secret=secret, jwks=keys, jwks_uri=uri)
    if access_token_lifetime is not None:
        client.access_token_lifetime = access_token_lifetime
    client.full_clean(exclude=["client_secret", *Client.FORCED_FIELDS])
    client.save()
    client_change_record(
        client=client,
        event="client.created",
        actor=actor,
        details={
            "service": service.name if service else None,
            "access_token_lifetime": client.access_token_lifetime,
            **({"auth_method": "private_key_jwt", "jwks_uri": uri or None} if client.uses_keys else {}),
            **(
                {"keys": [{"kid": k.kid, "thumbprint": k.thumbprint} for k in client_keys(client=client)]}
                if keys
                else {}
            ),
        },
    )
    for scope in scopes:
        grant_add(client=client, scope=scope, actor=actor)
    return RegisteredClient(client=client, client_secret="" if client.uses_keys else secret)


def _checked(field: str, check: Callable[[Any], Any], value: Any) -> Any:
    """`check(value)`, its ValidationError named after `field` (so that a form shows it there)."""
    try:
        return check(value)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from None


@transaction.atomic
def grant_add(*, client: Client, scope: Scope, actor: Actor = SYSTEM) -> Grant:
    grant, created = Grant.objects.get_or_create(client=client, scope=scope)
    if created:
        _grant_change_record(client=client, scope=scope, event="grant.added", actor=actor)
    return grant


def _grant_change_record(*, client: Client, scope: Scope, event: str, actor: Actor) -> None:
    """A grant's audit row: the client and the service and scope granted, as the catalogue names them."""
    client_change_record(
        client=client,
        event=event,
        actor=actor,
        details={"service": scope.service.name, "scope": scope.name},
        name_as="client",
    )


@transaction.atomic
def grants_add(*, client: Client, scopes: list[Scope], actor: Actor = SYSTEM) -> list[Grant]:
    """Grant several scopes at once, on any services: all or none, one `grant.added` per new grant."""
    return [grant_add(client=client, scope=scope, actor=actor) for scope in scopes]


@transaction.atomic
def service_update(
    *, service: Service, description: str, owner_contact: str, actor: Actor = SYSTEM
) -> Service:
    """Name and audience are fixed once tokens carry them; what a person reads can change."""
    changed = {
        name: {"from": getattr(service, name), "to": value}
        for name, value in (("description", description), ("owner_contact", owner_contact))
        if getattr(service, name) != value
    }
    if not changed:
        return service
    service.description, service.owner_contact = description, owner_contact
    registry_row_save(
        service,
        "service.updated",
        changed,
        actor=actor,
        update_fields=["description", "owner_contact", "updated_at"],
    )
    return service


@transaction.atomic
def scope_update(*, scope: Scope, description: str, actor: Actor = SYSTEM) -> Scope:
    """A scope's name is fixed once tokens carry it; its description can change."""
    if scope.description == description:
        return scope
    changed = {"description": {"from": scope.description, "to": description}}
    scope.description = description
    registry_row_save(
        scope,
        "scope.updated",
        {"service": scope.service.name, "scope": scope.name, **changed},
        actor=actor,
        update_fields=["description"],
    )
    return scope


@transaction.atomic
def scope_remove(*, scope: Scope, actor: Actor = SYSTEM) -> None:
    """Remove a scope and every grant of it; each removed grant is its own audit event."""
    for grant in scope.grants.select_related("client"):
        grant_remove(client=grant.client, scope=scope, actor=actor)
    registry_change_record(
        scope, "scope.deleted", {"service": scope.service.name, "scope": scope.name}, actor=actor
    )
    scope.delete()


@transaction.atomic
def client_update(
    *, client: Client, service: Service | None, access_token_lifetime: int, actor: Actor = SYSTEM
) -> Client:
    changed: dict[str, Any] = {}
    if client.service_id != (service.pk if service else None):
        changed["service"] = {
            "from": client.service.name if client.service else None,
            "to": service.name if service else None,
        }
    if client.access_token_lifetime != access_token_lifetime:
        changed["access_token_lifetime"] = {"from": client.access_token_lifetime, "to": access_token_lifetime}
    if not changed:
        return client
    client.service, client.access_token_lifetime = service, access_token_lifetime
    # The name does not change here, and one given before the naming rules stays valid.
    client.full_clean(exclude=["client_secret", "name"])
    client.save(update_fields=["service", "access_token_lifetime", "updated"])
    client_change_record(client=client, event="client.updated", actor=actor, details={**changed})
    return client


@transaction.atomic
def client_set_enabled(*, client: Client, enabled: bool, actor: Actor = SYSTEM) -> Client:
    """Disable (its tokens stop at once: authentication fails) or enable a client."""
    if client.enabled == enabled:
        return client
    client.enabled = enabled
    client.save(update_fields=["enabled", "updated"])
    client_change_record(client=client, event="client.enabled" if enabled else "client.disabled", actor=actor)
    return client


@transaction.atomic
def client_delete(*, client: Client, actor: Actor = SYSTEM) -> None:
    client_change_record(
        client=client,
        event="client.deleted",
        actor=actor,
        details={"grants": sorted(client.grants.values_list("scope__name", flat=True))},
    )
    client.delete()


class SecretChanged(Exception):
    """The secret is no longer the one the caller saw: someone (or the same form, again) rotated it."""


MAX_SECRET_OVERLAP = timedelta(days=30)


@transaction.atomic
def client_secret_rotate(
    *,
    client: Client,
    old_secret_valid_for: timedelta,
    expected_version: str | None = None,
    actor: Actor = SYSTEM,
) -> str:
    """A new secret, shown once; the current one keeps working for `old_secret_valid_for` (zero:
    it stops at once).

    At most two secrets are ever valid: rotating again replaces the previous one. With
    `expected_version` (`Client.secret_version()` when the caller decided), the rotation happens only
    if the secret is still that one, and otherwise raises SecretChanged and changes nothing.
    """
    if old_secret_valid_for < timedelta(0):
        raise ValidationError("The old secret's overlap must not be negative.")
    if old_secret_valid_for > MAX_SECRET_OVERLAP:
        raise ValidationError("The old secret may stay valid for at most 30 days.")
    client = Client.objects.select_for_update().get(pk=client.pk)
    if client.uses_keys:
        raise ValidationError(
            "This client authenticates with its keys (private_key_jwt): it has no secret to rotate."
        )
    if expected_version is not None and client.secret_version() != expected_version:
        raise SecretChanged(client.name)
    now = timezone.now()
    old_secret_valid_until = now + old_secret_valid_for
    secret = generate_client_secret()
    if old_secret_valid_for:
        client.previous_client_secret = client.client_secret  # already hashed
        client.previous_secret_expires_at = old_secret_valid_until
    else:
        client.previous_client_secret, client.previous_secret_expires_at = "", None
    client.client_secret = secret  # hashed on save by DOT's ClientSecretField
    client.save(
        update_fields=["client_secret", "previous_client_secret", "previous_secret_expires_at", "updated"]
    )
    client_change_record(
        client=client,
        event="client.secret_rotated",
        actor=actor,
        details={"old_secret_valid_until": old_secret_valid_until.isoformat()},
    )
    return secret


@transaction.atomic
def grant_remove(*, client: Client, scope: Scope, actor: Actor = SYSTEM) -> None:
    deleted, _ = Grant.objects.filter(client=client, scope=scope).delete()
    if deleted:
        _grant_change_record(client=client, scope=scope, event="grant.removed", actor=actor)


SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
SLUG_RULES = "1–63 lowercase letters, digits or -, not starting or ending with -"
USER_CLAIM_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def trusted_issuer_slug_default(issuer: str) -> str:
    """The issuer's host as a slug: https://login.example.com/x → login-example-com."""
    try:
        host = urlsplit(issuer).hostname or ""
    except ValueError:
        host = ""
    return re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")[:63].strip("-")


@transaction.atomic
def trusted_issuer_add(
    *,
    issuer: str,
    audience: str,
    jwks_uri: str = "",
    jwks: dict[str, Any] | None = None,
    user_claim: str = "sub",
    algorithms: list[str] | None = None,
    slug: str = "",
    actor: Actor = SYSTEM,
) -> TrustedIssuer:
    """Trust an outside issuer's user tokens for token exchange (see clients.external_subjects).

    Its keys come from exactly one of `jwks_uri` (fetched when needed) or `jwks`, a JWKS document
    stored now. The slug names it in the subjects it yields, `user:<slug>:<user id>`; by default the
    issuer's host.
    """
    algorithms = list(dict.fromkeys(algorithms or DEFAULT_ALGORITHMS))
    slug = slug or trusted_issuer_slug_default(issuer)
    errors: dict[str, list[str]] = {}

    def check(field: str, problem: str | None) -> None:
        if problem:
            errors.setdefault(field, []).append(problem)

    check("issuer", _url_problem(issuer, what="issuer", max_length=255))
    if not errors.get("issuer") and (urlsplit(issuer).query or issuer.endswith("?")):
        check("issuer", "The issuer must have no query (RFC 8414 §2).")
    if issuer == app_settings.ISSUER:
        check(
            "issuer", "That is our own issuer: our tokens are exchanged as access tokens, not as user tokens."
        )
    if bool(jwks_uri) == (jwks is not None):
        check("jwks_uri", "Give exactly one of a JWKS URL or a JWKS document.")
    elif jwks_uri:
        check("jwks_uri", _url_problem(jwks_uri, what="JWKS URL", max_length=500))
    else:
        check("jwks", _jwks_problem(jwks))
    if not audience or len(audience) > 255 or not audience.isprintable():
        check("audience", "The audience must be 1 to 255 printable characters.")
    if not USER_CLAIM_RE.match(user_claim):
        check("user_claim", "The user claim must be a claim name: 1 to 64 letters, digits or _ . : -.")
    for name in algorithms:
        if name not in ALLOWED_ALGORITHMS:
            check(
                "algorithms",
                f"{name[:20]!r} is not allowed: use asymmetric algorithms ({', '.join(ALLOWED_ALGORITHMS)}).",
            )
    if not SLUG_RE.match(slug):
        check("slug", f"{slug[:70]!r} is not a slug: use {SLUG_RULES}.")
    elif TrustedIssuer.objects.filter(slug=slug).exists():
        check("slug", f"The slug {slug!r} names another trusted issuer: choose another.")
    if TrustedIssuer.objects.filter(issuer=issuer).exists():
        check("issuer", "This issuer is already trusted: remove it first to change it.")
    if errors:
        raise ValidationError(errors)

    trusted = TrustedIssuer.objects.create(
        issuer=issuer,
        slug=slug,
        jwks_uri=jwks_uri,
        jwks=jwks,
        audience=audience,
        user_claim=user_claim,
        algorithms=algorithms,
    )
    registry_change_record(trusted, "issuer.added", _trusted_issuer_details(trusted), actor=actor)
    return trusted


@transaction.atomic
def trusted_issuer_remove(*, trusted_issuer: TrustedIssuer, actor: Actor = SYSTEM) -> None:
    """Stop trusting an issuer: its users' tokens are refused from the next exchange on."""
    details = _trusted_issuer_details(trusted_issuer)
    deleted, _ = TrustedIssuer.objects.filter(pk=trusted_issuer.pk).delete()
    if deleted:
        registry_change_record(trusted_issuer, "issuer.removed", details, actor=actor)


def _trusted_issuer_details(trusted: TrustedIssuer) -> dict[str, Any]:
    return {
        "issuer": trusted.issuer,
        "slug": trusted.slug,
        "jwks_uri": trusted.jwks_uri or None,
        "kids": sorted(jwks_public_keys(trusted.jwks)) if trusted.jwks is not None else None,
        "audience": trusted.audience,
        "user_claim": trusted.user_claim,
        "algorithms": trusted.algorithms,
    }


def _url_problem(url: str, *, what: str, max_length: int) -> str | None:
    if not url or len(url) > max_length:
        return f"The {what} must be 1 to {max_length} characters."
    try:
        trusted_issuer_url_check(url, what=what)
    except ValueError as error:
        return str(error)[0].upper() + str(error)[1:] + "."
    return None


def _jwks_problem(jwks: Any) -> str | None:
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if isinstance(keys, list) and any(
        isinstance(jwk, dict) and {"d", "p", "q", "k"} & set(jwk) for jwk in keys
    ):
        return "The JWKS holds a private or secret key: give the public keys only."
    try:
        jwks_public_keys(jwks)
    except ValueError as error:
        return f"Not a usable JWKS: {error}."
    return None


# --- the call graph ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScopeMapping(
    _OperatorPair, separator="=", form="UPSTREAM_SCOPE=DOWNSTREAM_SCOPE, such as orders:write=payments:charge"
):
    """`UPSTREAM=DOWNSTREAM` as an operator writes it: holding `upstream` allows `downstream` next hop."""

    upstream: str
    downstream: str


@transaction.atomic
def delegation_edge_add(
    *,
    from_service: Service,
    to_service: Service,
    mappings: list[ScopeMapping],
    max_depth: int | None = None,
    description: str = "",
    actor: Actor = SYSTEM,
) -> DelegationEdge:
    """Declare that `from_service` may call `to_service` on behalf of its callers, with these scopes.

    Every upstream scope must be one of `from_service`'s (the scopes of tokens sent to it), or
    USERS_UPSTREAM (`@user`: a trusted issuer's user token, which carries no scope of ours); every
    downstream scope one of `to_service`'s.
    """
    # Keyed by this function's keywords, so that a form naming its fields alike shows each on its field.
    if not mappings:
        raise ValidationError(
            {"mappings": "An edge needs at least one scope mapping (--map UPSTREAM=DOWNSTREAM)."}
        )
    owned = {
        (name, service_id)
        for name, service_id in Scope.objects.filter(service__in=[from_service, to_service]).values_list(
            "name", "service_id"
        )
    }
    problems: dict[str, list[str]] = {}
    for mapping in mappings:
        if mapping.upstream != USERS_UPSTREAM and (mapping.upstream, from_service.pk) not in owned:
            problems.setdefault("mappings", []).append(
                f"The service {from_service.name!r} has no scope {mapping.upstream!r}."
            )
        if (mapping.downstream, to_service.pk) not in owned:
            problems.setdefault("mappings", []).append(
                f"The service {to_service.name!r} has no scope {mapping.downstream!r}."
            )
    if from_service.pk == to_service.pk:
        problems.setdefault("to_service", []).append("An edge joins two different services.")
    elif DelegationEdge.objects.filter(from_service=from_service, to_service=to_service).exists():
        problems.setdefault("to_service", []).append(
            f"The edge {from_service.name} -> {to_service.name} is already declared; remove it first."
        )
    if problems:
        raise ValidationError(problems)
    scope_map: dict[str, list[str]] = {}
    for mapping in mappings:
        allowed = scope_map.setdefault(mapping.upstream, [])
        if mapping.downstream not in allowed:
            allowed.append(mapping.downstream)
    edge = DelegationEdge(
        from_service=from_service, to_service=to_service, scope_map=scope_map, description=description
    )
    if max_depth is not None:
        edge.max_depth = max_depth
    registry_row_save(
        edge,
        "edge.added",
        {
            "from_service": from_service.name,
            "to_service": to_service.name,
            "scope_map": scope_map,
            "max_depth": edge.max_depth,
            "enabled": edge.enabled,
        },
        actor=actor,
    )
    return edge


@transaction.atomic
def delegation_edge_remove(*, edge: DelegationEdge, actor: Actor = SYSTEM) -> None:
    """Withdraw an edge: the very next exchange along it is refused (the registry version moves)."""
    registry_change_record(
        edge,
        "edge.removed",
        {
            "from_service": edge.from_service.name,
            "to_service": edge.to_service.name,
            "scope_map": edge.scope_map,
            "max_depth": edge.max_depth,
        },
        actor=actor,
    )
    edge.delete()


@transaction.atomic
def delegation_edge_set_enabled(
    *, edge: DelegationEdge, enabled: bool, actor: Actor = SYSTEM
) -> DelegationEdge:
    """Suspend an edge without forgetting its mapping, or resume it."""
    if edge.enabled == enabled:
        return edge
    edge.enabled = enabled
    edge.save(update_fields=["enabled", "updated_at"])  # a switch, not an edit: nothing to validate again
    registry_change_record(
        edge,
        "edge.enabled" if enabled else "edge.disabled",
        {"from_service": edge.from_service.name, "to_service": edge.to_service.name},
        actor=actor,
    )
    return edge


@transaction.atomic
def service_delete(*, service: Service, actor: Actor = SYSTEM) -> None:
    """Remove a service: first its edges, its scopes (and so their grants), and its clients' link to it,
    each with its own audit row; then `service.deleted`. Tokens already issued for it run out."""
    for edge in DelegationEdge.objects.filter(models.Q(from_service=service) | models.Q(to_service=service)):
        delegation_edge_remove(edge=edge, actor=actor)
    scopes = list(service.scopes.order_by("name"))
    for scope in scopes:
        scope_remove(scope=scope, actor=actor)
    for client in Client.objects.filter(service=service):
        client_update(
            client=client, service=None, access_token_lifetime=client.access_token_lifetime, actor=actor
        )
    registry_change_record(
        service,
        "service.deleted",
        {"name": service.name, "audience": service.audience, "scopes": [s.name for s in scopes]},
        actor=actor,
    )
    service.delete()
