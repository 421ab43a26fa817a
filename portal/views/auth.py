from __future__ import annotations

from typing import Any

from axes.helpers import get_client_ip_address, get_cool_off
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from audit.actor import Actor
from core.http import AuthPortalRequest
from portal.forms import LoginForm
from portal.lockouts import lockout_find
from portal.services import sign_in_record


def _typed(request: AuthPortalRequest, username: str) -> Actor:
    """The username as typed into the sign-in form, from this request."""
    return Actor(name=username, request_id=request.request_id, remote_addr=request.META.get("REMOTE_ADDR"))


def _after_sign_in(request: HttpRequest) -> str:
    """Where `next` asks to go, if it is a URL of this site; else the dashboard. A control character
    (a NUL, a line break) is refused too: Django's check looks at the first character only, and a
    Location header must not carry one."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target) or not url_has_allowed_host_and_scheme(
        target, {request.get_host()}, request.is_secure()
    ):
        return reverse("portal:dashboard")
    return target


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request: AuthPortalRequest) -> HttpResponse:
    form = LoginForm(request, data=request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            user = form.get_user()
            login(request, user)  # cycles the session key
            sign_in_record(event="portal.login", actor=_typed(request, user.get_username()))
            return redirect(_after_sign_in(request))
        if getattr(request, "lockout_refused", None) is None:  # a refusal is audited as one, below
            sign_in_record(
                event="portal.login_failed", actor=_typed(request, request.POST.get("username", ""))
            )
    return render(request, "portal/login.html", {"form": form, "next": request.GET.get("next", "")})


def locked_out(
    request: AuthPortalRequest, response: HttpResponse | None, credentials: dict[str, Any] | None
) -> HttpResponse:
    """django-axes calls this when a sign-in was refused by a lock, or its failure began one."""
    username = (credentials or {}).get("username", "") or request.POST.get("username", "")
    refused = getattr(request, "lockout_refused", None)
    lock = refused or lockout_find(
        username=username, ip_address=get_client_ip_address(request), now=timezone.now()
    )
    sign_in_record(
        event="portal.locked_out",
        actor=_typed(request, username),
        details={
            "refused": refused is not None,
            "address": get_client_ip_address(request),
            "everywhere": bool(lock and lock.everywhere),
            "until": lock.until.isoformat() if lock else None,
        },
    )
    form = LoginForm(request, initial={"username": username})
    minutes = round(get_cool_off().total_seconds() / 60)
    context = {"form": form, "locked": True, "lock": lock, "cool_off_minutes": minutes}
    return render(request, "portal/login.html", context, status=429)


@require_POST
def logout_view(request: AuthPortalRequest) -> HttpResponse:
    if request.user.is_authenticated:
        sign_in_record(event="portal.logout", actor=_typed(request, request.user.get_username()))
    logout(request)
    return redirect("portal:login")
