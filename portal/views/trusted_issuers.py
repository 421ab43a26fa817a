"""Trusted user-token issuers: auditors read the list, security admins add and remove."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from clients.models import TrustedIssuer
from clients.services import trusted_issuer_add, trusted_issuer_remove
from core.http import AuthPortalRequest
from portal.forms import TrustedIssuerForm
from portal.roles import admin_required, reader_required
from portal.views.common import acting, form_page
from portal.views.generic import delete_view


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
        save=acting(request, trusted_issuer_add),
        done=lambda _saved: redirect("portal:trusted_issuer_list"),
    )


trusted_issuer_delete = delete_view(
    TrustedIssuer,
    noun="trusted_issuer",
    confirm_with="slug",
    remove=trusted_issuer_remove,
    success="Stopped trusting {}: its tokens are no longer exchanged.",
)
