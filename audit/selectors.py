"""Reading the audit log: the filter shared by the portal and `export_audit`, and keyset search."""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from django.db import connections
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from audit.catalogue import event_names_expand
from audit.models import AuditEvent
from core.databases import reports_database

MAX_PAGE = 500


@dataclass(frozen=True)
class AuditFilter:
    """What the auditor asked for. Every field is optional; they combine with AND.

    since/until: occurred_at in [since, until). events: exact names or `prefix.*`. client: a client id,
    matching events about that client (subject `client:ID`: its tokens, denials, changes and grants).
    actor, subject: exact. outcome: "success" or "failure". service: a service name, matching events
    about it (its registration and scopes, grants of its scopes), and with service_audience (its
    audience, which the caller resolves: audit imports no app of ours) the tokens for it too, the same
    events on PostgreSQL and on SQLite.
    txn: a transaction id (RFC 8417), matching every hop of one delegated request (`token.exchanged`
    and the refusals of exchanges that knew it).
    edge: a call-graph edge, `FROM->TO` by service name, matching the exchanges along it and the
    refusals of exchanges that reached it.
    """

    since: datetime | None = None
    until: datetime | None = None
    events: tuple[str, ...] = ()
    client: str = ""
    actor: str = ""
    subject: str = ""
    outcome: str = ""
    service: str = ""
    service_audience: str = ""
    txn: str = ""
    edge: str = ""

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            moment = getattr(self, name)
            if moment is not None and timezone.is_naive(moment):
                raise ValueError(f"{name} must carry a time zone (UTC is assumed by from_params)")
        if self.outcome and self.outcome not in AuditEvent.Outcome.values:
            raise ValueError(f"outcome must be one of {', '.join(AuditEvent.Outcome.values)}")
        if self.since and self.until and self.since >= self.until:
            raise ValueError("since must be before until")
        object.__setattr__(self, "events", tuple(self.events))

    @classmethod
    def from_params(cls, params: Mapping[str, object]) -> AuditFilter:
        """From strings as typed in a form, a query string or the command line.

        A bad value raises ValueError with a message fit for the user.

        since/until: ISO 8601 date or date-time; without a zone it is UTC. events: a list, or one
        comma-separated string.
        """
        given = params.get("events") or params.get("event") or ()
        if isinstance(given, str):
            events: Iterable[object] = [name.strip() for name in given.split(",") if name.strip()]
        elif isinstance(given, Iterable):
            events = given
        else:
            events = [given]
        return cls(
            since=_moment(params.get("since"), "since"),
            until=_moment(params.get("until"), "until"),
            events=tuple(str(name) for name in events),
            client=str(params.get("client") or "").strip(),
            actor=str(params.get("actor") or "").strip(),
            subject=str(params.get("subject") or "").strip(),
            outcome=str(params.get("outcome") or "").strip(),
            service=str(params.get("service") or "").strip(),
            txn=str(params.get("txn") or "").strip(),
            edge=str(params.get("edge") or "").strip(),
        )

    def is_complete_range(self) -> bool:
        """True when only a time range is set: then an export holds every event of that range."""
        return not (
            self.events
            or self.client
            or self.actor
            or self.subject
            or self.outcome
            or self.service
            or self.txn
            or self.edge
        )

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, for the export header and the `audit.exported` event."""
        data = asdict(self)
        del data["service_audience"]  # resolved from the service, which is recorded
        for name in ("since", "until"):
            data[name] = data[name].isoformat() if data[name] else None
        data["events"] = list(self.events)
        return {key: value for key, value in data.items() if value not in (None, "", [])}

    def queryset(self) -> QuerySet[AuditEvent]:
        """The matching events, read from the reports' database (the replica when one is configured)."""
        events = AuditEvent.objects.using(reports_database())
        if self.since:
            events = events.filter(occurred_at__gte=self.since)
        if self.until:
            events = events.filter(occurred_at__lt=self.until)
        names = event_names_expand(self.events)
        if len(names) == 1:
            events = events.filter(event=names[0])
        elif names:
            events = events.filter(event__in=names)
        if self.client:
            events = events.filter(subject=f"client:{self.client}")
        if self.actor:
            events = events.filter(actor=self.actor)
        if self.subject:
            events = events.filter(subject=self.subject)
        if self.outcome:
            events = events.filter(outcome=self.outcome)
        if self.service:
            events = events.filter(self._about_service())
        if self.edge:
            events = events.filter(details__edge=self.edge)
        if self.txn:
            # Spelled as the partial expression index audit_txn_time_id is, so that it is used.
            events = events.alias(_txn=KeyTextTransform("txn", "details")).filter(
                details__has_key="txn", _txn=self.txn
            )
        return events

    def _about_service(self) -> Q:
        about = Q(subject=f"service:{self.service}") | Q(details__service=self.service)
        if self.service_audience:
            about |= _audiences_hold(self.service_audience)
        return about


def _audiences_hold(audience: str) -> Q:
    """Events whose `details.audiences` array holds this audience: a token issued for it.

    Django's JSON `contains` exists on PostgreSQL only; SQLite reads the array with json_each.
    """
    reports = connections[reports_database()]
    if reports.vendor == "postgresql":
        return Q(details__audiences__contains=[audience])
    q = reports.ops.quote_name
    table = q(AuditEvent._meta.db_table)
    sql = f"EXISTS (SELECT 1 FROM json_each({table}.{q('details')}, '$.audiences') WHERE value = %s)"  # noqa: S608
    return Q(RawSQL(sql, [audience], output_field=BooleanField()))  # noqa: S611 (the value is a parameter)


def _moment(value: object, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    moment: datetime | None
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip().replace("Z", "+00:00")
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            if day is None:
                raise ValueError(f"{name}: not an ISO 8601 date or date-time: {value!r}")
            moment = datetime(day.year, day.month, day.day)
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment


Cursor = tuple[datetime, int]


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    next_before: Cursor | None = None  # pass as `before` for the next (older) page; None on the last
    filters: AuditFilter = field(default_factory=AuditFilter)


def audit_search(*, filters: AuditFilter, before: Cursor | None = None, limit: int = 50) -> AuditPage:
    """One page of events, newest first, strictly older than `before` = (occurred_at, id).

    Keyset pagination: each page is an index range scan whatever its depth, with 10 million rows as
    with ten. Several event names are read one index range each and merged, because one `IN` list
    cannot be walked in (occurred_at, id) order.
    """
    limit = max(1, min(limit, MAX_PAGE))
    names = event_names_expand(filters.events)
    if len(names) > 1:
        parts = [_page(dataclasses.replace(filters, events=(name,)), before, limit + 1) for name in names]
        rows = list(heapq.merge(*parts, key=lambda e: (e.occurred_at, e.id), reverse=True))[: limit + 1]
    else:
        rows = _page(filters, before, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    next_before = (rows[-1].occurred_at, rows[-1].id) if more else None
    return AuditPage(events=rows, next_before=next_before, filters=filters)


def _page(filters: AuditFilter, before: Cursor | None, limit: int) -> list[AuditEvent]:
    events = filters.queryset()
    if before is not None:
        moment, event_id = before
        # The redundant occurred_at <= bound lets the planner start the index scan at the cursor.
        events = events.filter(
            Q(occurred_at__lt=moment) | Q(occurred_at=moment, id__lt=event_id), occurred_at__lte=moment
        )
    return list(events.order_by("-occurred_at", "-id")[:limit])


def audit_cursor_encode(cursor: Cursor) -> str:
    """A page cursor for a URL (`?before=…`): the UTC time and the id of the last event shown."""
    moment, event_id = cursor
    return f"{moment.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%fZ')}_{event_id}"


def audit_cursor_decode(text: str) -> Cursor:
    """The inverse of audit_cursor_encode; ValueError on anything else (a tampered or stale link)."""
    moment, _, event_id = text.partition("_")
    return datetime.strptime(moment, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC), int(event_id)
