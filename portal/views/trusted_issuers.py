"""Trusted user-token issuers: auditors read the list, security admins add and remove."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from clients.models import TrustedIssuer
from clients.services import trusted_issuer_add, trusted_issuer_remove
from core.http import AuthPortalRequest
from portal.forms import TrustedIssuerForm, TypedConfirmationForm
from portal.roles import admin_required, reader_required
from portal.views.common import add_validation_errors, request_actor


@reader_required
@require_GET
def trusted_issuer_list(request: AuthPortalRequest) -> HttpResponse:
    issuers = TrustedIssuer.objects.all()
    return render(request, "portal/trusted_issuers/list.html", {"issuers": issuers})


@admin_required
def trusted_issuer_create(request: AuthPortalRequest) -> HttpResponse:
    form = TrustedIssuerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            trusted_issuer_add(**form.cleaned_data, actor=request_actor(request))
        except ValidationError as exc:
            add_validation_errors(form, exc)
        else:
            return redirect("portal:trusted_issuer_list")
    return render(request, "portal/trusted_issuers/form.html", {"form": form})


@admin_required
def trusted_issuer_delete(request: AuthPortalRequest, pk: int) -> HttpResponse:
    trusted = get_object_or_404(TrustedIssuer, pk=pk)
    form = TypedConfirmationForm(request.POST or None, expected=trusted.slug)
    if request.method == "POST" and form.is_valid():
        trusted_issuer_remove(trusted_issuer=trusted, actor=request_actor(request))
        return redirect("portal:trusted_issuer_list")
    return render(request, "portal/trusted_issuers/delete.html", {"form": form, "trusted": trusted})
