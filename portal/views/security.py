from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from clients.models import Client
from core.conf import app_settings
from core.http import AuthPortalRequest
from portal.forms import TokenQuotaForm
from portal.lockouts import lockouts_active
from portal.roles import admin_required
from portal.services import lockout_lift
from portal.views.common import request_actor
from throttling.models import Throttle
from throttling.selectors import throttles_active, token_quotas_all
from throttling.services import throttle_lift, token_quota_set


@admin_required
@require_GET
def lockout_list(request: AuthPortalRequest) -> HttpResponse:
    context = {
        "lockouts": lockouts_active(now=timezone.now()),
        "failure_limit": app_settings.LOGIN_FAILURE_LIMIT,
        "username_failure_limit": app_settings.LOGIN_USERNAME_FAILURE_LIMIT,
    }
    return render(request, "portal/security/lockouts.html", context)


@admin_required
@require_POST
def lockout_clear(request: AuthPortalRequest) -> HttpResponse:
    username = request.POST.get("username", "")[:150]
    ip_address = request.POST.get("ip_address", "")[:45]
    removed = lockout_lift(
        username=username,
        ip_address=ip_address,
        actor=request_actor(request),
    )
    if removed:
        messages.success(request, f"Unlocked {username or ip_address}.")
    else:
        messages.info(request, "Nothing was locked.")
    return redirect("portal:lockout_list")


@admin_required
@require_GET
def throttle_list(request: AuthPortalRequest) -> HttpResponse:
    context = {
        "throttles": throttles_active(now=timezone.now()),
        "quotas": token_quotas_all(),
        "clients": Client.objects.order_by("name").only("pk", "name", "client_id"),
        "window_seconds": app_settings.THROTTLE_WINDOW_SECONDS,
        "client_failures": app_settings.THROTTLE_CLIENT_FAILURES,
        "address_failures": app_settings.THROTTLE_ADDRESS_FAILURES,
    }
    return render(request, "portal/security/throttles.html", context)


@admin_required
@require_POST
def throttle_lift_view(request: AuthPortalRequest, pk: int) -> HttpResponse:
    throttle = get_object_or_404(Throttle, pk=pk)
    lifted = throttle_lift(throttle=throttle, actor=request_actor(request))
    if lifted:
        messages.success(request, f"Lifted the limit on {throttle.label}: it may ask for tokens again now.")
    else:
        messages.info(request, f"{throttle.label} was no longer throttled.")
    return redirect("portal:throttle_list")


@admin_required
@require_POST
def token_quota_view(request: AuthPortalRequest) -> HttpResponse:
    form = TokenQuotaForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect("portal:throttle_list")
    client = form.cleaned_data["client"]
    quota = form.cleaned_data["tokens_per_window"]
    token_quota_set(client=client, tokens_per_window=quota, actor=request_actor(request))
    if quota is None:
        messages.success(request, f"{client.name} has no token quota now.")
    else:
        messages.success(request, f"{client.name} may get {quota} tokens per window now.")
    return redirect("portal:throttle_list")
