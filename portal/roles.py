"""Two roles: security admins change things, auditors read everything but secrets. Nobody else gets in."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

ADMIN = "admin"
AUDITOR = "auditor"
GROUP_NAMES = {ADMIN: "Security admins", AUDITOR: "Auditors"}


def role_of(user: AbstractBaseUser | AnonymousUser) -> str | None:
    if not user.is_authenticated or not user.is_active:
        return None
    cached: str | bool | None = getattr(user, "_portal_role", False)
    if not isinstance(cached, bool):  # False: not looked up yet
        return cached
    names = set(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
    role = ADMIN if GROUP_NAMES[ADMIN] in names else AUDITOR if GROUP_NAMES[AUDITOR] in names else None
    user.__dict__["_portal_role"] = role
    return role


def role_group(role: str) -> Group:
    return Group.objects.get_or_create(name=GROUP_NAMES[role])[0]


def reader_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Admins and auditors; anyone else signed in gets 403, anonymous users the login page."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        if role_of(request.user) is None:
            raise PermissionDenied("No portal role.")
        return view(request, *args, **kwargs)

    return wrapped


def admin_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Security admins only: every URL that changes something, whatever the method."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        if role_of(request.user) != ADMIN:
            raise PermissionDenied("Security admins only.")
        return view(request, *args, **kwargs)

    return wrapped
