"""Audit search (keyset pages, the portal's filters: audit.selectors.AuditFilter) and export (audit.exports)."""

from __future__ import annotations

import dataclasses

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api.authentication import AUDIT, actor_of
from api.serializers import AuditEventSerializer, AuditPageSerializer
from api.views.common import AdminApiView
from audit.export_format import EXPORT_CONTENT_TYPES, FORMATS, export_filename
from audit.exports import audit_export_stream
from audit.selectors import MAX_PAGE, AuditFilter, audit_cursor_decode, audit_cursor_encode, audit_search
from clients.selectors import service_audience

FILTER_NAMES = ("since", "until", "event", "client", "actor", "subject", "outcome", "service", "txn", "edge")
FILTERS = [
    OpenApiParameter(
        "since", str, description="ISO 8601 date or date-time, inclusive (UTC unless a zone is given)"
    ),
    OpenApiParameter("until", str, description="ISO 8601 date or date-time, exclusive"),
    OpenApiParameter("event", str, description="An event name or a family (`token.*`); comma-separated"),
    OpenApiParameter("client", str, description="Events about this client id"),
    OpenApiParameter("actor", str),
    OpenApiParameter("subject", str),
    OpenApiParameter("outcome", str, enum=["success", "failure"]),
    OpenApiParameter("service", str, description="Events about this service, by name"),
    OpenApiParameter("txn", str, description="Every hop of one delegated request"),
    OpenApiParameter("edge", str, description="A call-graph edge, FROM->TO"),
]


def _filters(request: Request) -> AuditFilter:
    params = {name: request.query_params.get(name, "") for name in FILTER_NAMES}
    if any("\x00" in value for value in params.values()):
        raise ValidationError({"non_field_errors": ["A filter holds a NUL character."]})
    try:
        filters = AuditFilter.from_params(params)
    except ValueError as exc:
        raise ValidationError({"non_field_errors": [str(exc)]}) from None
    if not filters.service:
        return filters
    # audit imports no app of ours: the service's audience (its tokens) is resolved here.
    return dataclasses.replace(filters, service_audience=service_audience(name=filters.service))


class AuditEventList(AdminApiView):
    read_right = AUDIT

    @extend_schema(
        parameters=[
            *FILTERS,
            OpenApiParameter("before", str, description="The `next` cursor of the previous page"),
            OpenApiParameter("limit", int, description=f"Events a page, 1 to {MAX_PAGE} (default 50)"),
        ],
        responses=AuditPageSerializer,
    )
    def get(self, request: Request) -> Response:
        """Events newest first, one keyset page at a time: follow `next` until it is null."""
        filters = _filters(request)
        try:
            before = (
                audit_cursor_decode(request.query_params["before"])
                if request.query_params.get("before")
                else None
            )
        except (ValueError, OverflowError):
            raise ValidationError({"before": ["Not a cursor from a previous page."]}) from None
        limit_text = request.query_params.get("limit", "50")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE:
            raise ValidationError({"limit": [f"A whole number from 1 to {MAX_PAGE}."]})
        page = audit_search(filters=filters, before=before, limit=int(limit_text))
        next_url = None
        if page.next_before is not None:
            query = request.query_params.copy()
            query["before"] = audit_cursor_encode(page.next_before)
            next_url = request.build_absolute_uri(request.path + "?" + query.urlencode())
        return Response({"results": AuditEventSerializer(page.events, many=True).data, "next": next_url})


class AuditExport(AdminApiView):
    read_right = AUDIT

    @extend_schema(
        parameters=[
            *FILTERS,
            OpenApiParameter("format", str, enum=list(FORMATS), description="Default jsonl"),
        ],
        responses={(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY)},
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        """The filtered log as a file, oldest first, streamed; the export is itself an `audit.exported` row."""
        fmt = request.query_params.get("format", "jsonl")
        if fmt not in FORMATS:
            raise ValidationError({"format": [f"One of {', '.join(FORMATS)}."]})
        filters = _filters(request)
        response = StreamingHttpResponse(
            audit_export_stream(filters=filters, fmt=fmt, actor=actor_of(request)),
            content_type=EXPORT_CONTENT_TYPES[fmt],
        )
        response["Content-Disposition"] = f'attachment; filename="{export_filename(fmt=fmt)}"'
        return response
