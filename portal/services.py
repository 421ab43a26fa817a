"""Portal accounts: who may sign in, with which role."""

from __future__ import annotations

from typing import Any

from axes.utils import reset
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address
from django.db import transaction

from audit.actor import actor_name
from audit.recording import audit_record
from portal.roles import GROUP_NAMES, role_group


@transaction.atomic
def portal_user_create(*, username: str, role: str, password: str, actor: Any = None):
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
    audit_record(
        event="portal.user_created",
        actor=actor_name(actor),
        subject=f"user:{username}",
        details={"username": username, "role": role},
    )
    return user


@transaction.atomic
def lockout_lift(
    *, username: str, ip_address: str, actor: Any, remote_addr: str | None = None, request_id: str = ""
) -> int:
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
    audit_record(
        event="portal.unlocked",
        actor=actor_name(actor),
        subject=f"user:{username}" if username else f"address:{ip_address}",
        remote_addr=remote_addr,
        request_id=request_id,
        details={"username": username or None, "ip_address": ip_address or None, "attempts_removed": removed},
    )
    return removed
