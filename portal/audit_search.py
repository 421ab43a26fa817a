"""Audit log search for the portal: filters and keyset pagination (newest first)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import Q

from audit.models import AuditEvent
from clients.models import Service


@dataclass(frozen=True)
class AuditFilters:
    since: datetime | None = None
    until: datetime | None = None
    event: str = ""
    client: str = ""
    service: str = ""
    actor: str = ""
    outcome: str = ""

    @classmethod
    def from_form(cls, form) -> AuditFilters:
        data = form.cleaned_data
        return cls(
            **{
                name: data.get(name) or (None if name in ("since", "until") else "")
                for name in cls.__dataclass_fields__
            }
        )

    def as_q(self) -> Q:
        q = Q()
        if self.since:
            q &= Q(occurred_at__gte=self.since)
        if self.until:
            q &= Q(occurred_at__lt=self.until)
        if self.event:
            # "token." matches every token event; otherwise the exact name.
            q &= Q(event__startswith=self.event) if self.event.endswith(".") else Q(event=self.event)
        if self.client:
            q &= Q(actor=self.client) | Q(subject=f"client:{self.client}")
        if self.actor:
            q &= Q(actor=self.actor)
        if self.outcome:
            q &= Q(outcome=self.outcome)
        if self.service:
            about = Q(subject=f"service:{self.service}") | Q(details__service=self.service)
            audience = Service.objects.filter(name=self.service).values_list("audience", flat=True).first()
            if audience and connection.vendor == "postgresql":
                about |= Q(details__audiences__contains=[audience])
            q &= about
        return q


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    next_cursor: tuple[datetime, int] | None = field(default=None)


def audit_page(*, filters: AuditFilters, before: tuple[datetime, int] | None, limit: int) -> AuditPage:
    events = AuditEvent.objects.filter(filters.as_q())
    if before:
        moment, pk = before
        events = events.filter(Q(occurred_at__lt=moment) | Q(occurred_at=moment, id__lt=pk))
    rows = list(events.order_by("-occurred_at", "-id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(rows, (rows[-1].occurred_at, rows[-1].pk) if more else None)
