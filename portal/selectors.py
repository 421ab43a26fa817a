"""Reads behind the portal's pages. Each page costs a fixed number of queries, whatever the sizes."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncHour

from audit.models import AuditEvent
from clients.models import Client, Grant, Scope, Service


@dataclass(frozen=True)
class HourlySeries:
    hours: list[datetime]
    series: dict[str, list[int]]  # service name -> tokens per hour, aligned with `hours`

    @property
    def peak(self) -> int:
        return max((max(values) for values in self.series.values()), default=0)


def tokens_per_hour_per_service(*, now: datetime, hours: int = 24) -> HourlySeries:
    start = (now - timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0)
    buckets = [start + timedelta(hours=i) for i in range(hours)]
    rows = (
        AuditEvent.objects.filter(event="token.issued", occurred_at__gte=start)
        .annotate(hour=TruncHour("occurred_at"))
        .values_list("hour", "details__audiences")
        .annotate(n=Count("id"))
        .order_by()
    )
    service_of = dict(Service.objects.values_list("audience", "name"))
    counts: dict[str, Counter] = defaultdict(Counter)
    for hour, audiences, n in rows:
        for audience in audiences or []:
            counts[service_of.get(audience, audience)][hour] += n
    series = {name: [per_hour[h] for h in buckets] for name, per_hour in sorted(counts.items())}
    return HourlySeries(hours=buckets, series=series)


def denials_by_reason(*, now: datetime, hours: int = 24) -> list[tuple[str, str, int]]:
    rows = (
        AuditEvent.objects.filter(event="token.denied", occurred_at__gte=now - timedelta(hours=hours))
        .values_list("details__error", "details__reason")
        .annotate(n=Count("id"))
        .order_by("-n")[:10]
    )
    return [(error or "", reason or "", n) for error, reason, n in rows]


def clients_never_using_their_grants(*, limit: int = 20) -> list[Client]:
    used = AuditEvent.objects.filter(event="token.issued", actor=OuterRef("client_id"))
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
    unused: set[tuple[int, int]]  # granted but not requested in the last 30 days


def grant_matrix(*, clients: list[Client], scopes: list[Scope], now: datetime) -> GrantMatrix:
    granted = set(
        Grant.objects.filter(client__in=clients, scope__in=scopes).values_list("client_id", "scope_id")
    )
    requested: set[tuple[str, str]] = set()
    recent = AuditEvent.objects.filter(
        event="token.issued", occurred_at__gte=now - timedelta(days=30), actor__in=[c.client_id for c in clients]
    ).values_list("actor", "details__scopes").distinct()
    for actor, names in recent:
        requested.update((actor, name) for name in names or [])
    by_pk = {c.pk: c.client_id for c in clients}
    scope_names = {s.pk: s.name for s in scopes}
    unused = {(c, s) for c, s in granted if (by_pk[c], scope_names[s]) not in requested}
    return GrantMatrix(clients=clients, scopes=scopes, granted=granted, unused=unused)


def service_callers(*, service: Service) -> list[tuple[Client, list[str]]]:
    """Who may call this service, with which of its scopes."""
    rows = (
        Grant.objects.filter(scope__service=service)
        .select_related("client")
        .order_by("client__name", "scope__name")
        .values_list("client_id", "scope__name")
    )
    scopes_of: dict[int, list[str]] = defaultdict(list)
    for client_pk, scope in rows:
        scopes_of[client_pk].append(scope)
    clients = Client.objects.in_bulk(list(scopes_of))
    return [(clients[pk], names) for pk, names in scopes_of.items()]


def service_search(*, query: str):
    services = Service.objects.annotate(scope_count=Count("scopes", distinct=True))
    if query:
        services = services.filter(Q(name__icontains=query) | Q(audience__icontains=query))
    return services.order_by("name")


def client_search(*, query: str):
    clients = Client.objects.select_related("service").annotate(grant_count=Count("grants"))
    if query:
        clients = clients.filter(Q(name__icontains=query) | Q(client_id=query))
    return clients.order_by("name")
