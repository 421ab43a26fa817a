from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from keys.selectors import key_schedule
from portal.charts import stacked_hourly_chart
from portal.roles import reader_required
from portal.selectors import clients_never_using_their_grants, denials_by_reason, tokens_per_hour_per_service


@reader_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    schedule = key_schedule()
    active = next((row for row in schedule if row.key.state == "active"), None)
    return render(
        request,
        "portal/dashboard.html",
        {
            "chart": stacked_hourly_chart(tokens_per_hour_per_service(now=now)),
            "denials": denials_by_reason(now=now),
            "idle_clients": clients_never_using_their_grants(),
            "active_key": active,
            "published_keys": [row for row in schedule if row.key.state in ("staged", "active", "retired")],
        },
    )
