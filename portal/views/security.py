from __future__ import annotations

from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from audit.services import actor_name, audit_record
from portal.roles import admin_required


@admin_required
@require_GET
def lockout_list(request: HttpRequest) -> HttpResponse:
    attempts = AccessAttempt.objects.filter(failures_since_start__gte=settings.AXES_FAILURE_LIMIT).order_by(
        "-attempt_time"
    )
    return render(request, "portal/security/lockouts.html", {"attempts": attempts[:200]})


@admin_required
@require_POST
def lockout_clear(request: HttpRequest) -> HttpResponse:
    username = request.POST.get("username", "")[:150] or None
    ip = request.POST.get("ip_address", "")[:45] or None
    if username or ip:
        removed = reset(username=username, ip=ip)
        audit_record(
            event="portal.unlocked",
            actor=actor_name(request.user),
            subject=f"user:{username}" if username else f"address:{ip}",
            remote_addr=request.META.get("REMOTE_ADDR"),
            request_id=getattr(request, "request_id", ""),
            details={"username": username, "ip_address": ip, "attempts_removed": removed},
        )
        messages.success(request, f"Unlocked {username or ip}.")
    return redirect("portal:lockout_list")
