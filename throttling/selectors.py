"""Reads for the limits: quotas (cached per process) and the throttles in force now."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from django import db
from django.db.models import QuerySet

from throttling.ledger import ledger_background_running
from throttling.models import Throttle, TokenQuota

logger = logging.getLogger(__name__)

# A quota set in the portal reaches every process within this long (the process that set it: at once).
QUOTA_REFRESH_SECONDS = 5.0

_lock = threading.Lock()
_quotas: dict[str, int] = {}
_quotas_read_at = [-QUOTA_REFRESH_SECONDS]


def token_quota_of(*, client_id: str) -> int | None:
    """The client's token quota per window, from this process's copy (None: no quota).

    Read afresh when older than QUOTA_REFRESH_SECONDS; under the server the background thread keeps
    it fresh, so a token request rarely reads it.
    """
    # Under the server the background thread keeps the copy fresh: a request never waits on the
    # database for it (were the database frozen, it would spend the request's deadline).
    if token_quotas_stale() and not ledger_background_running():
        try:
            token_quotas_refresh()
        except db.Error:
            # The token endpoint answers a database that is down itself (503); until it is back, the
            # quotas last read hold, and are read again after QUOTA_REFRESH_SECONDS.
            logger.warning("throttling: the token quotas could not be read; keeping the last ones")
            _quotas_read_at[0] = time.monotonic()
    return _quotas.get(client_id)


def token_quotas_stale() -> bool:
    return time.monotonic() - _quotas_read_at[0] >= QUOTA_REFRESH_SECONDS


def token_quotas_refresh() -> None:
    fresh = dict(TokenQuota.objects.values_list("client__client_id", "tokens_per_window"))
    with _lock:
        _quotas.clear()
        _quotas.update(fresh)
        _quotas_read_at[0] = time.monotonic()


def token_quotas_forget() -> None:
    """The next read goes to the database (after a change in this process; tests)."""
    with _lock:
        _quotas.clear()
        _quotas_read_at[0] = -QUOTA_REFRESH_SECONDS


def token_quotas_all() -> QuerySet[TokenQuota]:
    return TokenQuota.objects.select_related("client").order_by("client__name")


def throttles_active(*, now: datetime) -> list[Throttle]:
    """Keys over a limit now and not lifted, one per key (its latest window), latest first.

    Each process that saw a key over its limit wrote its own row (with a limiter in memory, each
    counts for itself), so a key may have several; the page shows it once.
    """
    seen: set[tuple[str, str]] = set()
    active = []
    for throttle in Throttle.objects.filter(until__gt=now, lifted_at__isnull=True).order_by("-until")[:500]:
        if (throttle.limit, throttle.key) not in seen:
            seen.add((throttle.limit, throttle.key))
            active.append(throttle)
    return active


def throttles_lifted_since(*, since: datetime) -> QuerySet[Throttle]:
    return Throttle.objects.filter(lifted_at__gt=since)
