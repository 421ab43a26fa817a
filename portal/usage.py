"""Rolling token issuance up into hourly counts and last-use times (see portal/models.py)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from django.db import transaction

from audit.models import AuditEvent
from portal.models import ScopeUsage, TokenUsageHour

# The first run looks this far back, so the dashboard and the hints have history at once.
BACKFILL = timedelta(days=30)


@transaction.atomic
def token_usage_roll_up(*, now: datetime) -> int:
    """Recount the current and the previous hour (late rows land there), or backfill on first run.

    Idempotent: an hour's counts are replaced, never added to, and last-use times only move forward.
    """
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    first_run = not TokenUsageHour.objects.exists() and not ScopeUsage.objects.exists()
    since = this_hour - (BACKFILL if first_run else timedelta(hours=1))
    events = (
        AuditEvent.objects.filter(event="token.issued", occurred_at__gte=since, occurred_at__lt=now)
        .values_list("occurred_at", "actor", "details__audiences", "details__scopes")
        .order_by()
    )
    per_hour: Counter[tuple[datetime, str]] = Counter()
    last_used: dict[tuple[str, str], datetime] = {}
    rows = 0
    for occurred_at, actor, audiences, scopes in events.iterator(chunk_size=5000):
        rows += 1
        hour = occurred_at.replace(minute=0, second=0, microsecond=0)
        for audience in audiences or ():
            per_hour[(hour, audience)] += 1
        for scope in scopes or ():
            if occurred_at > last_used.get((actor, scope), since):
                last_used[(actor, scope)] = occurred_at
    TokenUsageHour.objects.filter(hour__gte=since).delete()
    TokenUsageHour.objects.bulk_create(
        TokenUsageHour(hour=hour, audience=audience, issued=count)
        for (hour, audience), count in per_hour.items()
    )
    existing = dict(
        ((c, s), at)
        for c, s, at in ScopeUsage.objects.filter(client_id__in={c for c, _ in last_used}).values_list(
            "client_id", "scope", "last_requested_at"
        )
    )
    ScopeUsage.objects.bulk_create(
        (
            ScopeUsage(client_id=c, scope=s, last_requested_at=max(at, existing.get((c, s), at)))
            for (c, s), at in last_used.items()
        ),
        update_conflicts=True,
        unique_fields=["client_id", "scope"],
        update_fields=["last_requested_at"],
    )
    return rows
