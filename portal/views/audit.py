from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from portal.audit_search import AuditFilters, audit_page
from portal.forms import AuditFilterForm
from portal.roles import reader_required

PAGE_SIZE = 50


@reader_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    filters = AuditFilters.from_form(form) if form.is_bound and form.is_valid() else AuditFilters()
    before = _cursor(request.GET.get("before", ""))
    page = audit_page(filters=filters, before=before, limit=PAGE_SIZE)
    next_url = None
    if page.next_cursor:
        params = {k: v for k, v in request.GET.items() if k != "before"}
        params["before"] = f"{page.next_cursor[0].isoformat()}|{page.next_cursor[1]}"
        next_url = reverse("portal:audit_log") + "?" + urlencode(params)
    return render(
        request,
        "portal/audit/list.html",
        {
            "form": form,
            "events": page.events,
            "next_url": next_url,
            "first_url": reverse("portal:audit_log")
            + "?"
            + urlencode({k: v for k, v in request.GET.items() if k != "before"}),
        },
    )


def _cursor(raw: str) -> tuple[datetime, int] | None:
    moment, _, pk = raw.partition("|")
    try:
        return datetime.fromisoformat(moment), int(pk)
    except ValueError:
        return None
