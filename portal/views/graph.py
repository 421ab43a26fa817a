"""The call graph: who may exchange tokens to call whom. Auditors read it, security admins change it."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from clients.models import DelegationEdge, Service
from clients.selectors import delegation_edges_with_traffic
from clients.services import delegation_edge_add, delegation_edge_remove, delegation_edge_set_enabled
from core.http import AuthPortalRequest
from portal.charts import call_graph
from portal.forms import DelegationEdgeForm
from portal.roles import admin_required, reader_required
from portal.views.common import add_validation_errors, request_actor

WINDOW = timedelta(hours=24)


def _page(request: AuthPortalRequest, form: DelegationEdgeForm, *, status: int = 200) -> HttpResponse:
    traffic = delegation_edges_with_traffic(since=timezone.now() - WINDOW)
    drawn = {row.edge.from_service_id for row in traffic} | {row.edge.to_service_id for row in traffic}
    services = list(Service.objects.filter(pk__in=drawn).values_list("pk", "name"))
    edges = [
        (
            row.edge.pk,
            row.edge.from_service.name,
            row.edge.to_service.name,
            row.edge.scope_map,
            row.edge.enabled,
        )
        for row in traffic
    ]
    context = {"traffic": traffic, "graph": call_graph(services, edges), "form": form}
    return render(request, "portal/graph/graph.html", context, status=status)


@reader_required
@require_GET
def call_graph_view(request: AuthPortalRequest) -> HttpResponse:
    return _page(request, DelegationEdgeForm())


@admin_required
@require_POST
def edge_create(request: AuthPortalRequest) -> HttpResponse:
    form = DelegationEdgeForm(request.POST)
    if form.is_valid():
        try:
            edge = delegation_edge_add(**form.cleaned_data, actor=request_actor(request))
        except ValidationError as exc:
            add_validation_errors(form, exc)
        else:
            messages.success(request, f"Declared {edge.label} (max depth {edge.max_depth}).")
            return redirect("portal:call_graph")
    return _page(request, form, status=400)


@admin_required
@require_POST
def edge_set_enabled(request: AuthPortalRequest, pk: int) -> HttpResponse:
    edge = get_object_or_404(DelegationEdge.objects.select_related("from_service", "to_service"), pk=pk)
    # The form says which state it asks for, so a replayed click changes nothing.
    enabled = request.POST.get("enabled") == "1"
    delegation_edge_set_enabled(edge=edge, enabled=enabled, actor=request_actor(request))
    if enabled:
        messages.success(request, f"Enabled {edge.label}: exchanges along it are allowed again.")
    else:
        messages.success(
            request, f"Disabled {edge.label}: exchanges along it are refused until it is enabled."
        )
    return redirect("portal:call_graph")


@admin_required
@require_POST
def edge_remove(request: AuthPortalRequest, pk: int) -> HttpResponse:
    edge = get_object_or_404(DelegationEdge.objects.select_related("from_service", "to_service"), pk=pk)
    label = edge.label
    delegation_edge_remove(edge=edge, actor=request_actor(request))
    messages.success(request, f"Removed {label}: the next exchange along it is refused.")
    return redirect("portal:call_graph")
