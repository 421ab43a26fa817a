from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from clients.models import DelegationEdge, Scope, Service
from clients.services import ScopeSpec, scope_remove, scopes_add, service_register, service_update
from core.http import AuthPortalRequest
from portal.forms import ScopeForm, ServiceEditForm, ServiceForm
from portal.roles import admin_required, reader_required
from portal.selectors import service_callers, service_search
from portal.views.common import acting, add_validation_errors, form_page, request_actor
from portal.views.generic import edit_view, list_view


@reader_required
@require_GET
def service_detail(request: AuthPortalRequest, pk: int) -> HttpResponse:
    return _service_page(request, get_object_or_404(Service, pk=pk), scope_form=ScopeForm())


def _service_page(
    request: AuthPortalRequest, service: Service, *, scope_form: ScopeForm, status: int = 200
) -> HttpResponse:
    context = {
        "service": service,
        "scopes": service.scopes.all(),
        "callers": service_callers(service=service),
        "scope_form": scope_form,
        **_edges(service),
    }
    return render(request, "portal/services/detail.html", context, status=status)


def _edges(service: Service) -> dict[str, QuerySet[DelegationEdge]]:
    """The call-graph edges into and out of the service, for its page."""
    return {
        "edges_out": service.edges_out.select_related("to_service"),
        "edges_in": service.edges_in.select_related("from_service"),
    }


@admin_required
def service_create(request: AuthPortalRequest) -> HttpResponse:
    form = ServiceForm(request.POST or None)

    def registered(service: Service) -> HttpResponse:
        scopes = [spec.name for spec in form.cleaned_data["scopes"]]
        names = ": " + " ".join(scopes) if scopes else ""
        messages.success(request, f"Registered {service.name} with {len(scopes)} scopes{names}.")
        return redirect("portal:service_detail", service.pk)

    return form_page(
        request,
        form,
        "portal/services/form.html",
        save=acting(request, service_register),
        done=registered,
    )


@admin_required
@require_POST
def scope_create(request: AuthPortalRequest, pk: int) -> HttpResponse:
    service = get_object_or_404(Service, pk=pk)
    form = ScopeForm(request.POST)
    if form.is_valid():
        try:
            specs = [
                ScopeSpec(name, form.cleaned_data["description"]) for name in form.cleaned_data["scopes"]
            ]
            scopes_add(service=service, specs=specs, actor=request_actor(request))
        except ValidationError as exc:
            add_validation_errors(form, exc)
        else:
            messages.success(request, f"Added {' '.join(form.cleaned_data['scopes'])} to {service.name}.")
            return redirect("portal:service_detail", service.pk)
    return _service_page(request, service, scope_form=form, status=400)


@admin_required
@require_POST
def scope_delete(request: AuthPortalRequest, pk: int, scope_pk: int) -> HttpResponse:
    scope = get_object_or_404(Scope, pk=scope_pk, service_id=pk)
    scope_remove(scope=scope, actor=request_actor(request))
    messages.success(request, f"Removed {scope.name} from {scope.service.name}, and every grant of it.")
    return redirect("portal:service_detail", pk)


service_list = list_view(service_search, "portal/services/list.html")

service_edit = edit_view(
    Service, ServiceEditForm, fields=("description", "owner_contact"), update=service_update
)
