from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core.conf import app_settings
from core.http import AuthPortalRequest
from portal.lockouts import lockouts_active
from portal.roles import admin_required
from portal.services import lockout_lift
from portal.views.common import request_actor


@admin_required
@require_GET
def lockout_list(request: HttpRequest) -> HttpResponse:
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
