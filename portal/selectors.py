"""Reads behind the portal's pages. Each page costs a fixed number of queries, whatever the sizes."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from audit.models import AuditEvent
from clients.models import Client, Grant, Scope, Service
from portal.models import ScopeUsage, TokenUsageHour


@dataclass(frozen=True)
class HourlySeries:
    hours: list[datetime]
    series: dict[str, list[int]]  # service name -> tokens per hour, aligned with `hours`

    @property
    def peak(self) -> int:
        return max((max(values) for values in self.series.values()), default=0)


def tokens_per_hour_per_service(*, now: datetime, hours: int = 24, top: int = 7) -> HourlySeries:
    """From the hourly roll-up (portal.usage), at most a minute behind the audit log.

    The `top` busiest services get a series each; the rest are summed as "other services".
    """
    start = (now - timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0)
    buckets = [start + timedelta(hours=i) for i in range(hours)]
    window = TokenUsageHour.objects.filter(hour__gte=start)
    busiest = list(
        window.values_list("audience", flat=True)
        .annotate(total=Sum("issued"))
        .order_by("-total", "audience")[:top]
    )
    service_of = dict(Service.objects.filter(audience__in=busiest).values_list("audience", "name"))
    counts: dict[str, Counter] = defaultdict(Counter)
    for hour, audience, issued in window.filter(audience__in=busiest).values_list(
        "hour", "audience", "issued"
    ):
        counts[service_of.get(audience, audience)][hour] += issued
    others = Counter(
        dict(window.exclude(audience__in=busiest).values_list("hour").annotate(n=Sum("issued")).order_by())
    )
    series = {name: [per_hour[h] for h in buckets] for name, per_hour in counts.items()}
    series = dict(sorted(series.items(), key=lambda item: -sum(item[1])))
    if others:
        series["other services"] = [others[h] for h in buckets]
    return HourlySeries(hours=buckets, series=series)


class Denial(NamedTuple):
    client_id: str  # as presented: it may name no client
    client: Client | None
    error: str
    reason: str
    count: int  # type: ignore[assignment]  # shadows tuple.count, which nothing here calls


def denials_by_reason(*, now: datetime, hours: int = 24) -> list[Denial]:
    """The ten most frequent (client, error, reason) among the last hours' refused token requests."""
    rows = list(
        AuditEvent.objects.filter(event="token.denied", occurred_at__gte=now - timedelta(hours=hours))
        .values_list("actor", "details__error", "details__reason")
        .annotate(n=Count("id"))
        .order_by("-n", "actor")[:10]
    )
    clients = {
        c.client_id: c
        for c in Client.objects.filter(client_id__in={row[0] for row in rows}).only("pk", "client_id", "name")
    }
    return [
        Denial(actor, clients.get(actor), error or "", reason or "", n) for actor, error, reason, n in rows
    ]


def clients_never_using_their_grants(*, limit: int = 20) -> list[Client]:
    """Clients with grants that have not received a token since the usage roll-up began (portal.usage)."""
    used = ScopeUsage.objects.filter(client_id=OuterRef("client_id"))
    return list(
        Client.objects.filter(Exists(Grant.objects.filter(client=OuterRef("pk"))))
        .exclude(Exists(used))
        .order_by("name")[:limit]
    )


@dataclass(frozen=True)
class GrantMatrix:
    clients: list[Client]
    scopes: list[Scope]
    granted: set[tuple[int, int]]  # (client pk, scope pk)
    unused: set[tuple[int, int]]  # granted over UNUSED_AFTER ago and not requested since


UNUSED_AFTER = timedelta(days=30)


def grant_matrix(*, clients: list[Client], scopes: list[Scope], now: datetime) -> GrantMatrix:
    created = dict(
        ((c, s), at)
        for c, s, at in Grant.objects.filter(client__in=clients, scope__in=scopes).values_list(
            "client_id", "scope_id", "created_at"
        )
    )
    requested = set(
        ScopeUsage.objects.filter(
            client_id__in=[c.client_id for c in clients], last_requested_at__gte=now - UNUSED_AFTER
        ).values_list("client_id", "scope")
    )
    by_pk = {c.pk: c.client_id for c in clients}
    scope_names = {s.pk: s.name for s in scopes}
    # Counted from the grant's creation: a grant made a minute ago has had no chance to be used.
    unused = {
        (c, s)
        for (c, s), at in created.items()
        if at <= now - UNUSED_AFTER and (by_pk[c], scope_names[s]) not in requested
    }
    return GrantMatrix(clients=clients, scopes=scopes, granted=set(created), unused=unused)


def scopes_to_grant(*, client: Client) -> list[tuple[Service, list[Scope]]]:
    """Every scope of every service that the client is not granted yet, by service name."""
    scopes = (
        Scope.objects.exclude(grants__client=client)
        .select_related("service")
        .order_by("service__name", "name")
    )
    by_service: dict[int, tuple[Service, list[Scope]]] = {}
    for scope in scopes:
        by_service.setdefault(scope.service_id, (scope.service, []))[1].append(scope)
    return list(by_service.values())


def service_callers(*, service: Service, limit: int = 200) -> list[tuple[Client, list[str]]]:
    """Who may call this service, with which of its scopes (the first `limit` clients by name)."""
    first_clients = (
        Grant.objects.filter(scope__service=service)
        .order_by("client__name")
        .values_list("client_id", flat=True)
        .distinct()[:limit]
    )
    rows = (
        Grant.objects.filter(scope__service=service, client_id__in=list(first_clients))
        .order_by("client__name", "scope__name")
        .values_list("client_id", "scope__name")
    )
    scopes_of: dict[int, list[str]] = defaultdict(list)
    for client_pk, scope in rows:
        scopes_of[client_pk].append(scope)
    clients = Client.objects.in_bulk(list(scopes_of))
    return [(clients[pk], names) for pk, names in scopes_of.items()]


def _searched(rows: QuerySet, *, query: str, match: Q) -> QuerySet:
    """`rows` that `match` the search. A search holding a NUL matches nothing: PostgreSQL refuses a
    NUL in text (a DataError, a 500) and so no stored name can hold one."""
    if "\x00" in query:
        return rows.none()
    return rows.filter(match) if query else rows


def service_search(*, query: str) -> QuerySet[Service]:
    services = Service.objects.annotate(scope_count=Count("scopes", distinct=True))
    match = Q(name__icontains=query) | Q(audience__icontains=query)
    return _searched(services, query=query, match=match).order_by("name")


def client_search(*, query: str) -> QuerySet[Client]:
    clients = Client.objects.select_related("service").annotate(grant_count=Count("grants"))
    return _searched(clients, query=query, match=Q(name__icontains=query) | Q(client_id=query)).order_by(
        "name"
    )


def last_key_activation(*, kid: str) -> AuditEvent | None:
    """Who made `kid` the active key, and when: what a second "Rotate now" is told."""
    return (
        AuditEvent.objects.filter(event="key.activated", subject=f"key:{kid}")
        .order_by("-occurred_at", "-id")
        .first()
    )


def last_secret_rotation(*, client: Client) -> AuditEvent | None:
    """Who rotated this client's secret last, and when: what a second submission of the form is told."""
    return (
        AuditEvent.objects.filter(event="client.secret_rotated", subject=f"client:{client.client_id}")
        .order_by("-occurred_at", "-id")
        .first()
    )


class AuditRow(NamedTuple):
    event: AuditEvent
    actor_client: Client | None  # the client whose id is the actor (token events)
    subject_client: Client | None  # the client of a `client:ID` subject


def audit_rows(*, events: list[AuditEvent]) -> list[AuditRow]:
    """A page of events with the clients they name by id, so the page can show names: one query."""

    def subject_id(event: AuditEvent) -> str:
        kind, _, ident = event.subject.partition(":")
        return ident if kind == "client" else ""

    ids = {e.actor for e in events} | {subject_id(e) for e in events}
    clients = {
        c.client_id: c for c in Client.objects.filter(client_id__in=ids).only("pk", "client_id", "name")
    }
    return [AuditRow(e, clients.get(e.actor), clients.get(subject_id(e))) for e in events]


def client_names(*, limit: int = 1000) -> list[str]:
    """Suggestions for the audit log's client filter."""
    return list(Client.objects.order_by("name").values_list("name", flat=True)[:limit])
