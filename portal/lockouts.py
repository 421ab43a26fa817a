"""Who may not sign in for a while, after failed sign-ins: the rules, for django-axes and our pages.

A username is locked at one address after AXES_FAILURE_LIMIT failures there (so one person's typos
or one attacker's guesses never lock anybody else out of a shared address), and at every address
after AUTHPORTAL_LOGIN_USERNAME_FAILURE_LIMIT failures in all (guessing one account from many
addresses). Both last AXES_COOLOFF_TIME from the latest failure that counts; a refused sign-in is
not a failure and does not extend a lock.

django-axes records the failures (AccessAttempt rows: username, address, user agent, count, time)
and compares one number with one limit; `LockoutHandler` gives it that number from these rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.db.models import Max, QuerySet, Sum

from core.conf import app_settings


@dataclass(frozen=True)
class Lockout:
    username: str
    ip_address: str | None  # None: the username is locked at every address
    failures: int
    until: datetime  # at the latest: older failures may stop counting sooner

    @property
    def everywhere(self) -> bool:
        return self.ip_address is None


def _recent(now: datetime) -> QuerySet[AccessAttempt]:
    return AccessAttempt.objects.filter(attempt_time__gte=now - get_cool_off())


def _failures(rows: QuerySet[AccessAttempt]) -> tuple[int, datetime | None]:
    found = rows.aggregate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
    return found["failures"] or 0, found["last"]


def lockout_find(*, username: str | None, ip_address: str | None, now: datetime) -> Lockout | None:
    """The lock that refuses this username at this address now, if any (the username-wide one first)."""
    if not username:
        return None
    rows = _recent(now).filter(username=username)
    failures, last = _failures(rows)
    if last and failures >= app_settings.LOGIN_USERNAME_FAILURE_LIMIT:
        return Lockout(username, None, failures, last + get_cool_off())
    failures, last = _failures(rows.filter(ip_address=ip_address))
    if last and failures >= app_settings.LOGIN_FAILURE_LIMIT:
        return Lockout(username, ip_address, failures, last + get_cool_off())
    return None


def lockouts_active(*, now: datetime, limit: int = 200) -> list[Lockout]:
    """Every lock in force, newest first: usernames locked everywhere, then usernames at an address."""
    recent = _recent(now).exclude(username=None)
    everywhere = (
        recent.values("username")
        .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        .filter(failures__gte=app_settings.LOGIN_USERNAME_FAILURE_LIMIT)
        .order_by("-last")[:limit]
    )
    at_address = (
        recent.values("username", "ip_address")
        .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        .filter(failures__gte=app_settings.LOGIN_FAILURE_LIMIT)
        .order_by("-last")[:limit]
    )
    cool_off = get_cool_off()
    return [Lockout(row["username"], None, row["failures"], row["last"] + cool_off) for row in everywhere] + [
        Lockout(row["username"], row["ip_address"], row["failures"], row["last"] + cool_off)
        for row in at_address
    ]


class LockoutHandler(AxesDatabaseHandler):
    """django-axes' database handler, locking by the rules above (settings.AXES_HANDLER)."""

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        # Asked before the password is checked. A refusal is remembered on the request, so the
        # sign-in page records it as refused, not as the user's own failure (portal.views.auth).
        lock = lockout_find(
            username=get_client_username(request, credentials),
            ip_address=request.axes_ip_address,
            now=request.axes_attempt_time,
        )
        request.lockout_refused = lock
        return lock is not None

    def get_failures(self, request, credentials: dict | None = None) -> int:
        # Axes locks when this number reaches AXES_FAILURE_LIMIT: the failures here, or those of a
        # username-wide lock (always more).
        username = get_client_username(request, credentials)
        ip_address, now = request.axes_ip_address, request.axes_attempt_time
        if lock := lockout_find(username=username, ip_address=ip_address, now=now):
            return lock.failures
        return _failures(_recent(now).filter(username=username, ip_address=ip_address))[0]
