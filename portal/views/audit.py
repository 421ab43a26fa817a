from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from audit.export_format import EXPORT_CONTENT_TYPES, FORMATS, SEAL, export_filename
from audit.exports import audit_export_stream
from audit.selectors import AuditFilter, audit_cursor_decode, audit_cursor_encode, audit_search
from clients.selectors import service_audience
from core.http import AuthPortalRequest
from portal.forms import AuditFilterForm
from portal.roles import reader_required
from portal.selectors import audit_rows, client_names
from portal.views.common import request_actor

PAGE_SIZE = 50


def _filters(form: AuditFilterForm) -> AuditFilter | None:
    """The auditor's filter, or None with the reason on the form."""
    if not form.is_bound:
        return AuditFilter()
    if not form.is_valid():
        return None
    data = form.cleaned_data
    try:
        return AuditFilter(
            since=data["since"],
            until=data["until"],
            events=(data["event"],) if data["event"] else (),
            client=data["client"],
            actor=data["actor"],
            outcome=data["outcome"],
            service=data["service"],
            service_audience=service_audience(name=data["service"]) if data["service"] else "",
            txn=data["txn"],
            edge=data["edge"],
        )
    except ValueError as exc:
        form.add_error(None, str(exc))
        return None


@reader_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    query: dict[str, Any] = {k: v for k, v in request.GET.items() if k != "before" and v}
    form = AuditFilterForm(query or None)
    filters = _filters(form)
    try:
        before = audit_cursor_decode(request.GET["before"]) if request.GET.get("before") else None
    except ValueError:
        before = None
    page = audit_search(filters=filters, before=before, limit=PAGE_SIZE) if filters is not None else None
    base = reverse("portal:audit_log") + "?" + urlencode(query)
    return render(
        request,
        "portal/audit/list.html",
        {
            "form": form,
            "rows": audit_rows(events=page.events) if page else [],
            "client_names": client_names(),
            "next_url": f"{base}&before={audit_cursor_encode(page.next_before)}"
            if page and page.next_before
            else None,
            "first_url": base,
            "export_query": urlencode(query),
            "formats": FORMATS,
        },
    )


@reader_required
@require_GET
def audit_export(request: AuthPortalRequest) -> HttpResponse | StreamingHttpResponse:
    """The filtered log as a file, streamed; the export itself is an `audit.exported` event."""
    fmt = request.GET.get("format", "csv")
    form = AuditFilterForm({k: v for k, v in request.GET.items() if k != "format" and v} or None)
    filters = _filters(form)
    if fmt not in (*FORMATS, SEAL) or filters is None:
        return render(
            request,
            "portal/audit/list.html",
            {
                "form": form,
                "rows": [],
                "client_names": client_names(),
                "formats": FORMATS,
                "export_error": f"Cannot export: choose one of {', '.join(FORMATS)} and valid filters.",
            },
            status=400,
        )
    response = StreamingHttpResponse(
        audit_export_stream(
            filters=filters,
            fmt=fmt,
            actor=request_actor(request),
        ),
        content_type=EXPORT_CONTENT_TYPES[fmt],
    )
    response["Content-Disposition"] = f'attachment; filename="{export_filename(fmt=fmt)}"'
    return response
