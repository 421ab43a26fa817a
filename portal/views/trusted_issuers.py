"""Trusted user-token issuers: auditors read the list, security admins add and remove."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from clients.models import TrustedIssuer
from clients.services import trusted_issuer_add, trusted_issuer_remove
from core.http import AuthPortalRequest
from portal.forms import TrustedIssuerForm, TypedConfirmationForm
from portal.roles import admin_required, reader_required
from portal.views.common import form_page, request_actor


@reader_required
@require_GET
def trusted_issuer_list(request: AuthPortalRequest) -> HttpResponse:
    issuers = TrustedIssuer.objects.all()
    return render(request, "portal/trusted_issuers/list.html", {"issuers": issuers})


@admin_required
def trusted_issuer_create(request: AuthPortalRequest) -> HttpResponse:
    form = TrustedIssuerForm(request.POST or None)
    return form_page(
        request,
        form,
        "portal/trusted_issuers/form.html",
        save=lambda data: trusted_issuer_add(**data, actor=request_actor(request)),
        done=lambda: redirect("portal:trusted_issuer_list"),
    )


@admin_required
def trusted_issuer_delete(request: AuthPortalRequest, pk: int) -> HttpResponse:
    trusted = get_object_or_404(TrustedIssuer, pk=pk)
    form = TypedConfirmationForm(request.POST or None, expected=trusted.slug)
    return form_page(
        request,
        form,
        "portal/trusted_issuers/delete.html",
        {"trusted": trusted},
        save=lambda _data: trusted_issuer_remove(trusted_issuer=trusted, actor=request_actor(request)),
        done=lambda: redirect("portal:trusted_issuer_list"),
    )
