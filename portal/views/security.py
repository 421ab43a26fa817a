from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from audit.actor import Actor
from clients.models import Client
from portal.forms import TokenQuotaForm
from portal.lockouts import lockouts_active
from portal.roles import admin_required
from portal.services import lockout_lift
from throttling.models import Throttle
from throttling.selectors import throttles_active, token_quotas_all
from throttling.services import throttle_lift, token_quota_set


@admin_required
@require_GET
def lockout_list(request: HttpRequest) -> HttpResponse:
    context = {
        "lockouts": lockouts_active(now=timezone.now()),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "username_failure_limit": settings.AUTHPORTAL_LOGIN_USERNAME_FAILURE_LIMIT,
    }
    return render(request, "portal/security/lockouts.html", context)


@admin_required
@require_POST
def lockout_clear(request: HttpRequest) -> HttpResponse:
    username = request.POST.get("username", "")[:150]
    ip_address = request.POST.get("ip_address", "")[:45]
    removed = lockout_lift(
        username=username,
        ip_address=ip_address,
        actor=request.user,
        remote_addr=request.META.get("REMOTE_ADDR"),
        request_id=getattr(request, "request_id", ""),
    )
    if removed:
        messages.success(request, f"Unlocked {username or ip_address}.")
    else:
        messages.info(request, "Nothing was locked.")
    return redirect("portal:lockout_list")


@admin_required
@require_GET
def throttle_list(request: HttpRequest) -> HttpResponse:
    context = {
        "throttles": throttles_active(now=timezone.now()),
        "quotas": token_quotas_all(),
        "clients": Client.objects.order_by("name").only("pk", "name", "client_id"),
        "window_seconds": settings.AUTHPORTAL_THROTTLE_WINDOW_SECONDS,
        "client_failures": settings.AUTHPORTAL_THROTTLE_CLIENT_FAILURES,
        "address_failures": settings.AUTHPORTAL_THROTTLE_ADDRESS_FAILURES,
    }
    return render(request, "portal/security/throttles.html", context)


@admin_required
@require_POST
def throttle_lift_view(request: HttpRequest, pk: int) -> HttpResponse:
    throttle = get_object_or_404(Throttle, pk=pk)
    lifted = throttle_lift(throttle=throttle, actor=_actor(request))
    if lifted:
        messages.success(request, f"Lifted the limit on {throttle.label}: it may ask for tokens again now.")
    else:
        messages.info(request, f"{throttle.label} was no longer throttled.")
    return redirect("portal:throttle_list")


@admin_required
@require_POST
def token_quota_view(request: HttpRequest) -> HttpResponse:
    form = TokenQuotaForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("portal:throttle_list")
    client = form.cleaned_data["client"]
    quota = form.cleaned_data["tokens_per_window"]
    token_quota_set(client=client, tokens_per_window=quota, actor=_actor(request))
    if quota is None:
        messages.success(request, f"{client.name} has no token quota now.")
    else:
        messages.success(request, f"{client.name} may get {quota} tokens per window now.")
    return redirect("portal:throttle_list")


def _actor(request: HttpRequest) -> Actor:
    return Actor.of_user(
        request.user,  # type: ignore[arg-type]
        request_id=getattr(request, "request_id", ""),
        remote_addr=request.META.get("REMOTE_ADDR"),
    )
