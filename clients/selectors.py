"""Reads of the registry, including the two the token endpoint makes on every request."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Count, Max
from django.utils import timezone

from audit.models import AuditEvent
from audit.rows import RowCondition
from clients.hashers import client_secret_matches
from clients.models import Client, DelegationEdge, Grant, Scope, Service

# The registry's current version, in SQL: for a statement that must read it in its own snapshot (the
# client read below, the token's conditional audit INSERT). Migration 0003's triggers move it; 0 when
# its row is missing (a test flush).
REGISTRY_VERSION_SQL = "COALESCE((SELECT version FROM clients_registryversion WHERE id = 1), 0)"


def registry_unchanged(version: int) -> RowCondition:
    """The token's audit row is written only while the registry is still at `version` (audit.rows)."""
    return RowCondition(
        name="registry", sql=f"{REGISTRY_VERSION_SQL} = {{}}", params=(version,), casts=("bigint",)
    )


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
    granted: list[GrantedScope]
    # The registry version this was read at: what the token's audit INSERT is conditional on
    # (None: not read from the registry, so nothing to be conditional on).
    registry_version: int | None = None
    # How it authenticated, for the audit row of what it gets, when not by a secret: the accepted
    # private_key_jwt assertion's kid, alg and jti (oauth.client_assertions).
    authentication: dict[str, str] | None = None


@dataclass(frozen=True)
class ClientAuthFailure:
    reason: str


def client_authenticate(
    *, client_id: str, client_secret: str, now: datetime | None = None
) -> AuthenticatedClient | ClientAuthFailure:
    """Check a client's credentials in constant time: an unknown id costs what a wrong secret costs.

    One query brings the client, its grants and the registry version they were read at. During a
    secret rotation the previous secret also works until its expiry. A client that passes is kept
    in this process's credentials cache (see `client_authenticate_cached`).
    """
    rows = []
    _credentials.pop(client_id, None)  # whatever this read finds replaces it
    if 0 < len(client_id) <= CLIENT_ID_MAX_LENGTH and client_id.isprintable():
        with connection.cursor() as cursor:
            cursor.execute(_client_with_grants_sql(), [client_id])
            rows = cursor.fetchall()
    if not rows:
        client_secret_matches(client_secret, None)
        return ClientAuthFailure("unknown client")
    pk, name, encoded, enabled, lifetime, previous, previous_expires_at, _, _, version, jwks, jwks_uri = rows[
        0
    ]
    if not _secret_matches(client_secret, encoded, previous, previous_expires_at, now):
        return ClientAuthFailure("wrong client secret")
    if jwks is not None or jwks_uri:
        # Its stored secret is random and was never shown, so this cannot happen but by a bug: still,
        # a client registered with keys uses keys, never a secret.
        return ClientAuthFailure("client authenticates with private_key_jwt only")
    if not enabled:
        return ClientAuthFailure("client disabled")
    client = _client_granted(rows, pk=pk, client_id=client_id, name=name, lifetime=lifetime, version=version)
    _cache_put(_credentials, client_id, _Credentials(client, encoded, previous, previous_expires_at))
    return client


def _client_granted(
    rows: list[tuple[Any, ...]], *, pk: int, client_id: str, name: str, lifetime: int, version: int
) -> AuthenticatedClient:
    """The client of `_client_with_grants_sql`'s rows (one a grant, its scope and audience at 7 and 8)."""
    granted = [GrantedScope(name=row[7], audience=row[8]) for row in rows if row[7] is not None]
    return AuthenticatedClient(
        pk=pk,
        client_id=client_id,
        name=name,
        access_token_lifetime=lifetime,
        granted=granted,
        registry_version=version,
    )


@dataclass(frozen=True)
class KeyHoldingClient:
    """A client registered with public keys, as a private_key_jwt assertion is checked against it."""

    client: AuthenticatedClient
    enabled: bool
    jwks: dict[str, Any] | None  # stored at registration, or
    jwks_uri: str  # fetched and cached (oauth.client_assertions)


def client_key_holder(*, client_id: str) -> KeyHoldingClient | ClientAuthFailure:
    """The client `client_id` with its keys and grants, read in one query, for an assertion to be
    verified against; no secret is involved. ClientAuthFailure when it is unknown or uses a secret.
    An enabled client found is kept in this process's cache (see `client_key_holder_cached`)."""
    rows = []
    _key_holders.pop(client_id, None)  # whatever this read finds replaces it
    if 0 < len(client_id) <= CLIENT_ID_MAX_LENGTH and client_id.isprintable():
        with connection.cursor() as cursor:
            cursor.execute(_client_with_grants_sql(), [client_id])
            rows = cursor.fetchall()
    if not rows:
        return ClientAuthFailure("unknown client")
    pk, name, _, enabled, lifetime, _, _, _, _, version, jwks, jwks_uri = rows[0]
    if isinstance(jwks, str):  # a raw cursor hands JSON back as text on SQLite (and PostgreSQL's jsonb: dict)
        jwks = json.loads(jwks)
    if jwks is None and not jwks_uri:
        return ClientAuthFailure("client has no registered keys: it authenticates with a secret")
    client = _client_granted(rows, pk=pk, client_id=client_id, name=name, lifetime=lifetime, version=version)
    holder = KeyHoldingClient(client=client, enabled=enabled, jwks=jwks, jwks_uri=jwks_uri or "")
    if enabled:
        _cache_put(_key_holders, client_id, holder)
    return holder


def client_id_registered(*, client_id: str) -> bool:
    """Whether `client_id` is a registered client's id: one lookup on the unique index at most."""
    if not (0 < len(client_id) <= CLIENT_ID_MAX_LENGTH and client_id.isprintable()):
        return False
    with connection.cursor() as cursor:
        cursor.execute(_client_id_registered_sql(), [client_id])
        return cursor.fetchone() is not None


# --- the credentials cache -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Credentials:
    client: AuthenticatedClient
    secret: str
    previous: str
    previous_expires_at: datetime | str | None


CREDENTIALS_CACHE_MAX = 10_000
_credentials: dict[str, _Credentials] = {}
_key_holders: dict[str, KeyHoldingClient] = {}
CachedValue = TypeVar("CachedValue")


def _cache_put(cache: dict[str, CachedValue], client_id: str, value: CachedValue) -> None:
    if len(cache) >= CREDENTIALS_CACHE_MAX:
        cache.clear()
    cache[client_id] = value


def client_authenticate_cached(
    *, client_id: str, client_secret: str, now: datetime | None = None
) -> AuthenticatedClient | None:
    """The client as `client_authenticate` last found it in this process, without a query; or None.

    None when it is not cached or the secret does not match what was cached: ask the database then.
    Whatever is decided from it must commit only if the registry has not changed since it was read:
    the token endpoint makes its audit INSERT conditional on `registry_version` (a counter every
    change to services, scopes, clients and grants moves, by trigger) and starts again from
    `client_authenticate` when it has moved. A refusal is never decided from the cache.
    """
    entry = _credentials.get(client_id)
    if entry is None or not _secret_matches(
        client_secret, entry.secret, entry.previous, entry.previous_expires_at, now
    ):
        return None
    return entry.client


def client_key_holder_cached(*, client_id: str) -> KeyHoldingClient | None:
    """The key-holding client as `client_key_holder` last found it enabled in this process, without a
    query; or None.

    The same rule as for `client_authenticate_cached`: whatever is decided from it must commit only if
    the registry has not changed since it was read (a change to a client's keys moves the registry
    version too), and an assertion it would refuse is checked again against a fresh read.
    """
    return _key_holders.get(client_id)


def client_credentials_forget(client_id: str | None = None) -> None:
    """Drop one client's cached credentials (secret or keys), or all of them."""
    for cache in (_credentials, _key_holders):
        if client_id is None:
            cache.clear()
        else:
            cache.pop(client_id, None)


def _secret_matches(
    presented: str,
    encoded: str,
    previous: str,
    previous_expires_at: datetime | str | None,
    now: datetime | None,
) -> bool:
    # During a secret rotation the previous secret also works until its expiry.
    return client_secret_matches(presented, encoded) or (
        bool(previous)
        and _still_valid(previous_expires_at, now)
        and client_secret_matches(presented, previous)
    )


def _still_valid(expires_at: datetime | str | None, now: datetime | None) -> bool:
    if expires_at is None:
        return False
    if isinstance(expires_at, str):  # SQLite hands raw cursors text
        expires_at = datetime.fromisoformat(expires_at)
    if timezone.is_naive(expires_at):
        expires_at = timezone.make_aware(expires_at, UTC)
    return (now or timezone.now()) < expires_at


@functools.cache
def _client_with_grants_sql() -> str:
    # Hand-written because the ORM spends longer compiling this query than the database spends
    # answering it, on the request the whole product is measured by. Names come from the models.
    q = connection.ops.quote_name
    client, grant, scope, service = (m._meta for m in (Client, Grant, Scope, Service))
    # Identifiers come from the models, quoted; the only value is a query parameter.
    return (
        f"SELECT c.{q('id')}, c.{q('name')}, c.{q('client_secret')}, c.{q('enabled')}, "  # noqa: S608
        f"c.{q('access_token_lifetime')}, c.{q('previous_client_secret')}, c.{q('previous_secret_expires_at')}, "
        f"s.{q('name')}, v.{q('audience')}, "
        f"{REGISTRY_VERSION_SQL}, c.{q('jwks')}, c.{q('jwks_uri')} "
        f"FROM {q(client.db_table)} c "
        f"LEFT JOIN {q(grant.db_table)} g ON g.{q('client_id')} = c.{q('id')} "
        f"LEFT JOIN {q(scope.db_table)} s ON s.{q('id')} = g.{q('scope_id')} "
        f"LEFT JOIN {q(service.db_table)} v ON v.{q('id')} = s.{q('service_id')} "
        f"WHERE c.{q('client_id')} = %s"
    )


@functools.cache
def _client_id_registered_sql() -> str:
    q = connection.ops.quote_name
    return f"SELECT 1 FROM {q(Client._meta.db_table)} WHERE {q('client_id')} = %s"  # noqa: S608


def scope_names_all() -> list[str]:
    return list(Scope.objects.order_by("name").values_list("name", flat=True))


# --- the call graph ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EdgeTraffic:
    edge: DelegationEdge
    exchanges: int  # token.exchanged along it since the window's start
    denials: int  # token.denied naming it (scope, depth, cycle refusals on a declared edge)
    last_exchanged_at: datetime | None


def delegation_edges_with_traffic(*, since: datetime) -> list[EdgeTraffic]:
    """Every declared edge with its exchanges and refusals since `since`, for a call-graph page.

    Two grouped queries over the audit log's event index, whatever the number of edges.
    """
    edges = list(DelegationEdge.objects.select_related("from_service", "to_service"))
    counts: dict[tuple[str, str], Mapping[str, Any]] = {}
    rows = (
        AuditEvent.objects.filter(event__in=("token.exchanged", "token.denied"), occurred_at__gte=since)
        .exclude(details__edge=None)
        .values("event", "details__edge")
        .annotate(count=Count("id"), last=Max("occurred_at"))
    )
    for row in rows:
        counts[(row["event"], row["details__edge"])] = row
    result = []
    for edge in edges:
        exchanged = counts.get(("token.exchanged", edge.label), {})
        denied = counts.get(("token.denied", edge.label), {})
        result.append(
            EdgeTraffic(
                edge=edge,
                exchanges=exchanged.get("count", 0),
                denials=denied.get("count", 0),
                last_exchanged_at=exchanged.get("last"),
            )
        )
    return result


@dataclass(frozen=True)
class ExchangeEdge:
    """What a token exchange needs to know of the registry about one hop."""

    actor_service: str | None  # the service the authenticated client represents
    actor_audience: str | None
    target_service: str | None  # the service whose audience is the requested resource
    edge_label: str | None
    declared: bool
    scope_map: dict[str, list[str]]
    max_depth: int
    enabled: bool
    target_scopes: frozenset[str]  # the target service's scopes now (a mapped scope may have been removed)


@dataclass(frozen=True)
class _EdgeRule:
    scope_map: dict[str, list[str]]
    max_depth: int
    enabled: bool


@dataclass(frozen=True)
class CallGraph:
    """The registry as token exchange reads it (services, which client represents which, edges,
    scopes), held per process and valid only at `version`, the registry version it was read at.

    Like the credentials cache it saves every query on the request path: whatever is decided from it
    commits only if the registry version still holds (the exchange's audit INSERT is conditional on it).
    """

    version: int
    audience_service: dict[str, str]
    service_audience: dict[str, str]
    client_service: dict[str, str]  # client id → the service it represents (only those that do)
    client_pk_service: dict[int, str]
    edges: dict[tuple[str, str], _EdgeRule]
    scopes: dict[str, frozenset[str]]

    def hop(self, *, client_pk: int, resource: str) -> ExchangeEdge:
        """The actor's service, the target service for `resource`, and the edge between them if declared."""
        actor = self.client_pk_service.get(client_pk)
        target = self.audience_service.get(resource)
        rule = self.edges.get((actor, target)) if actor and target else None
        return ExchangeEdge(
            actor_service=actor,
            actor_audience=self.service_audience.get(actor) if actor else None,
            target_service=target,
            edge_label=f"{actor}->{target}" if actor and target else None,
            declared=rule is not None,
            scope_map=rule.scope_map if rule else {},
            max_depth=rule.max_depth if rule else 0,
            enabled=bool(rule and rule.enabled),
            target_scopes=self.scopes.get(target, frozenset()) if rule and target else frozenset(),
        )

    def services_of(self, client_ids: list[str]) -> dict[str, str]:
        """The service each of these clients represents, for those that represent one."""
        return {cid: self.client_service[cid] for cid in client_ids if cid in self.client_service}


_call_graph: CallGraph | None = None
_CALL_GRAPH_READ_ATTEMPTS = 3


def call_graph(*, version: int | None) -> CallGraph | None:
    """The call graph at registry version `version`: this process's copy, or read anew.

    None when the registry moved on while it was read (the caller decides anew from fresh credentials).
    """
    global _call_graph
    graph = _call_graph
    if graph is not None and version is not None and graph.version == version:
        return graph
    for _ in range(_CALL_GRAPH_READ_ATTEMPTS):
        graph = _call_graph_read()
        if graph is not None:
            _call_graph = graph
            return graph if graph.version == version else None
    return None


def call_graph_forget() -> None:
    global _call_graph
    _call_graph = None


def _registry_version() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {REGISTRY_VERSION_SQL}")  # noqa: S608 (a constant)
        row = cursor.fetchone()
        assert row is not None  # the counter's one row, made by its migration
        return int(row[0])


def _call_graph_read() -> CallGraph | None:
    # Every registry change moves the version in its own transaction, so reads framed by the same
    # version on both sides saw no change: together they are the registry at that version.
    before = _registry_version()
    services = list(Service.objects.values_list("name", "audience"))
    clients = list(
        Client.objects.filter(service__isnull=False).values_list("pk", "client_id", "service__name")
    )
    edges = list(
        DelegationEdge.objects.values_list(
            "from_service__name", "to_service__name", "scope_map", "max_depth", "enabled"
        )
    )
    scopes: dict[str, set[str]] = {}
    for service, scope in Scope.objects.values_list("service__name", "name"):
        scopes.setdefault(service, set()).add(scope)
    if _registry_version() != before:
        return None
    return CallGraph(
        version=before,
        audience_service={audience: name for name, audience in services},
        service_audience=dict(services),
        client_service={client_id: service for _, client_id, service in clients},
        client_pk_service={pk: service for pk, _, service in clients},
        edges={(f, t): _EdgeRule(scope_map, depth, enabled) for f, t, scope_map, depth, enabled in edges},
        scopes={service: frozenset(names) for service, names in scopes.items()},
    )


def service_audience(*, name: str) -> str:
    """The audience of the service called `name`, "" when there is none: for the audit filter."""
    return Service.objects.filter(name=name).values_list("audience", flat=True).first() or ""
