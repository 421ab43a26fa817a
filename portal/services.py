"""Portal accounts: who may sign in, with which role; the sign-in's own audit rows and unlocking."""

from __future__ import annotations

from typing import Any

from axes.utils import reset
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address
from django.db import transaction

from audit.actor import SYSTEM, Actor
from audit.models import AuditEvent
from audit.recording import audit_change
from portal.roles import GROUP_NAMES, role_group


@transaction.atomic
def portal_user_create(*, username: str, role: str, password: str, actor: Actor = SYSTEM) -> Any:
    if role not in GROUP_NAMES:
        raise ValidationError(f"Role must be one of {', '.join(GROUP_NAMES)}, not {role!r}.")
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValidationError(f"There is already a user {username!r}.")
    user = User(username=username)
    user.full_clean(exclude=["password"])
    validate_password(password, user)
    user.set_password(password)
    user.save()
    user.groups.add(role_group(role))
    audit_change(
        event="portal.user_created",
        actor=actor,
        subject=f"user:{username}",
        details={"username": username, "role": role},
    )
    return user


@transaction.atomic
def lockout_lift(*, username: str, ip_address: str, actor: Actor) -> int:
    """Forget the failed sign-ins of a username (at one address, or everywhere), or of an address.

    Returns how many failure records went; nothing is done, or audited, when nothing is named.
    """
    try:
        validate_ipv46_address(ip_address)
    except ValidationError:
        ip_address = ""  # not an address, so none of the records'
    if not username and not ip_address:
        return 0
    removed = reset(username=username or None, ip=ip_address or None)
    audit_change(
        event="portal.unlocked",
        actor=actor,
        subject=f"user:{username}" if username else f"address:{ip_address}",
        details={"username": username or None, "ip_address": ip_address or None, "attempts_removed": removed},
    )
    return removed


# What a sign-in records. The actor is the username as typed (a refused or failed one too), from the
# request's address; it is cut to the length of a username.
SIGN_IN_EVENTS = ("portal.login", "portal.login_failed", "portal.logout", "portal.locked_out")


def sign_in_record(*, event: str, actor: Actor, details: dict[str, Any] | None = None) -> None:
    """Record a sign-in, a failed or refused one, or a sign-out (`SIGN_IN_EVENTS`)."""
    if event not in SIGN_IN_EVENTS:
        raise ValueError(f"{event!r} is not a sign-in event")
    success = event in ("portal.login", "portal.logout")
    username = actor.name[:150]
    audit_change(
        event=event,
        actor=Actor(name=username, request_id=actor.request_id, remote_addr=actor.remote_addr),
        subject=f"user:{username}",
        outcome=AuditEvent.Outcome.SUCCESS if success else AuditEvent.Outcome.FAILURE,
        details=details,
    )
