from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from clients.models import Client, Scope, Service
from clients.services import grant_add, grant_remove
from core.http import AuthPortalRequest
from portal.roles import admin_required, reader_required, role_of
from portal.selectors import client_search, grant_matrix
from portal.views.common import request_actor, search_query


@reader_required
@require_GET
def grant_matrix_view(request: AuthPortalRequest) -> HttpResponse:
    services = list(Service.objects.order_by("name").only("pk", "name"))
    chosen = next(
        (s for s in services if str(s.pk) == request.GET.get("service")), services[0] if services else None
    )
    query = search_query(request)
    page = Paginator(client_search(query=query), 50).get_page(request.GET.get("page"))
    scopes = list(Scope.objects.filter(service=chosen).order_by("name")) if chosen else []
    matrix = grant_matrix(clients=list(page.object_list), scopes=scopes, now=timezone.now())
    rows = [
        (
            client,
            [
                (scope, (client.pk, scope.pk) in matrix.granted, (client.pk, scope.pk) in matrix.unused)
                for scope in scopes
            ],
        )
        for client in matrix.clients
    ]
    return render(
        request,
        "portal/grants/matrix.html",
        {
            "services": services,
            "service": chosen,
            "scopes": scopes,
            "rows": rows,
            "page": page,
            "q": query,
            "can_change": role_of(request.user) == "admin",
        },
    )


@admin_required
@require_POST
def grant_toggle(request: AuthPortalRequest) -> HttpResponse:
    client = get_object_or_404(Client, pk=_as_pk(request.POST.get("client")))
    scope = get_object_or_404(Scope.objects.select_related("service"), pk=_as_pk(request.POST.get("scope")))
    if request.POST.get("action") == "grant":
        grant_add(client=client, scope=scope, actor=request_actor(request))
        messages.success(request, f"Granted {scope.name} to {client.name}.")
    else:
        grant_remove(client=client, scope=scope, actor=request_actor(request))
        messages.success(request, f"Revoked {scope.name} from {client.name}.")
    back = request.POST.get("back", "")
    if back.startswith("/grants/") or back.startswith("/clients/"):
        return redirect(back)
    return redirect("portal:grant_matrix")


def _as_pk(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 19 else 0
