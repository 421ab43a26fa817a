"""The limits at /o/token: who is refused before any database work, what counts, lifting, quotas.

- failed authentications (401 `invalid_client`) per presented client id and per address
  (`AUTHPORTAL_THROTTLE_CLIENT_FAILURES`, `AUTHPORTAL_THROTTLE_ADDRESS_FAILURES` per
  `AUTHPORTAL_THROTTLE_WINDOW_SECONDS`);
- tokens per window for a client that has a quota (`TokenQuota`, set in the portal).

A request over a limit is answered 429 from the limiter alone; its refusal is counted in memory
(throttling/ledger.py) and written with the others of its key and window as one `token.throttled` row.
"""

from __future__ import annotations

import functools
import hmac
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from audit.actor import Actor
from audit.recording import audit_change
from clients.changes import client_change_record
from clients.models import Client
from core.conf import app_settings
from oauth.services import client_id_audited
from throttling import limiter
from throttling.ledger import ledger_count
from throttling.models import Throttle, TokenQuota
from throttling.selectors import (
    throttles_lifted_since,
    token_quota_of,
    token_quotas_forget,
    token_quotas_refresh,
    token_quotas_stale,
)

Limit = Throttle.Limit


@dataclass(frozen=True)
class Caller:
    """Who a token request says it is: the client id as presented (maybe a secret: never stored or
    logged as such) and the address limits count against."""

    client_id: str
    address: str


@dataclass(frozen=True)
class Throttled:
    limit: str
    retry_after: int  # seconds


@functools.cache
def _client_key_hmac(secret_key: str) -> hmac.HMAC:
    # Django's salted_hmac derives its key anew on every call; derived once here, copied per use.
    return salted_hmac("authportal.throttling.client_id", b"", secret=secret_key, algorithm="sha256")


def client_key(client_id: str) -> str:
    """The limiter's name for a presented client id: an HMAC keyed with SECRET_KEY (the text may be a
    secret), the same as Django's `salted_hmac("authportal.throttling.client_id", client_id)`."""
    mac = _client_key_hmac(settings.SECRET_KEY).copy()
    mac.update(client_id.encode())
    return mac.hexdigest()[:32]


def _limits(caller: Caller) -> list[tuple[str, str, int, str]]:
    """(limit, key, amount, what the audit calls it) for each limit that applies to the caller."""
    limits: list[tuple[str, str, int, str]] = []
    if caller.client_id:
        key = client_key(caller.client_id)
        limits.append((Limit.CLIENT_FAILURES, key, app_settings.THROTTLE_CLIENT_FAILURES, ""))
        quota = token_quota_of(client_id=caller.client_id)
        if quota is not None:
            limits.append((Limit.TOKEN_QUOTA, key, quota, ""))
    if caller.address:
        limits.append(
            (
                Limit.ADDRESS_FAILURES,
                caller.address,
                app_settings.THROTTLE_ADDRESS_FAILURES,
                caller.address,
            )
        )
    return limits


def token_request_throttled(*, caller: Caller, now: float | None = None) -> Throttled | None:
    """Whether the request must be refused with 429 before anything else is done (None: go on).

    Reads only the limiter (Redis or this process's memory) and this process's copy of the quotas.
    """
    if not app_settings.THROTTLE:
        return None
    now = time.time() if now is None else now
    for limit, key, amount, address in _limits(caller):
        state = limiter.remaining(limit=limit, key=key, amount=amount)
        if state is None or state[0] > 0:
            continue
        until = state[1]
        ledger_count(
            limit=limit,
            key=key,
            label=_address_label(address) if address else _client_label(caller.client_id),
            now=now,
            until=until,
        )
        window = app_settings.THROTTLE_WINDOW_SECONDS
        return Throttled(limit=limit, retry_after=max(1, min(window, math.ceil(until - now))))
    return None


def _address_label(address: str) -> Callable[[], str]:
    return lambda: f"address:{address}"


def _client_label(presented: str) -> Callable[[], str]:
    # Read when the row is written (the background thread): whether the id is registered is a query.
    return lambda: client_id_audited(client_id=presented)


def token_answer_count(*, caller: Caller, status: int, error: str | None) -> None:
    """Count what the token endpoint answered: a failed authentication, or a token under a quota."""
    if not app_settings.THROTTLE:
        return
    if status == 401 and error == "invalid_client":
        for limit, key, amount, _ in _limits(caller):
            if limit != Limit.TOKEN_QUOTA:
                limiter.hit(limit=limit, key=key, amount=amount)
    elif status == 200 and caller.client_id:
        quota = token_quota_of(client_id=caller.client_id)
        if quota is not None:
            limiter.hit(limit=Limit.TOKEN_QUOTA, key=client_key(caller.client_id), amount=quota)


def _amount(limit: str, throttle: Throttle) -> list[int]:
    if limit == Limit.CLIENT_FAILURES:
        return [app_settings.THROTTLE_CLIENT_FAILURES]
    if limit == Limit.ADDRESS_FAILURES:
        return [app_settings.THROTTLE_ADDRESS_FAILURES]
    return list(
        TokenQuota.objects.filter(client__client_id=throttle.label).values_list(
            "tokens_per_window", flat=True
        )
    )


def throttle_lift(*, throttle: Throttle, actor: Actor, now: datetime | None = None) -> int:
    """Let a throttled key ask again at once: its counters go, its rows are marked lifted, audited.

    With Redis the counters are shared, so every node lets it through at once; with a limiter in
    memory each process clears its own within `QUOTA_REFRESH_SECONDS` (`throttles_lifted_apply`).
    Returns how many rows were lifted (0: it was no longer throttled, and nothing is audited).
    """
    now = now or timezone.now()
    with transaction.atomic():
        lifted = Throttle.objects.filter(
            limit=throttle.limit, key=throttle.key, lifted_at__isnull=True, until__gt=now
        ).update(lifted_at=now, lifted_by=actor.name)
        if lifted:
            audit_change(
                actor=actor,
                event="throttle.lifted",
                subject=throttle.label
                if throttle.label.startswith("address:")
                else f"client:{throttle.label}",
                details={
                    "limit": throttle.limit,
                    "label": throttle.label,
                    "until": throttle.until.isoformat(),
                },
            )
    for amount in _amount(throttle.limit, throttle):
        limiter.clear(limit=throttle.limit, key=throttle.key, amount=amount)
    return lifted


_lifts_seen = [timezone.now()]


def throttles_lifted_apply() -> None:
    """Clear this process's counters of keys lifted elsewhere (a limiter in memory), and refresh the
    quotas; at most every QUOTA_REFRESH_SECONDS (the background thread asks every half second)."""
    if not token_quotas_stale():
        return
    token_quotas_refresh()
    since, _lifts_seen[0] = _lifts_seen[0], timezone.now()
    for throttle in throttles_lifted_since(since=since - timedelta(seconds=1)):
        for amount in _amount(throttle.limit, throttle):
            limiter.clear(limit=throttle.limit, key=throttle.key, amount=amount)


def token_quota_set(*, client: Client, tokens_per_window: int | None, actor: Actor) -> None:
    """Set (or with None remove) a client's token quota per window; audited as `client.quota_set`."""
    with transaction.atomic():
        old = TokenQuota.objects.filter(client=client).values_list("tokens_per_window", flat=True).first()
        if tokens_per_window is None:
            TokenQuota.objects.filter(client=client).delete()
        else:
            TokenQuota.objects.update_or_create(
                client=client, defaults={"tokens_per_window": tokens_per_window}
            )
        window = app_settings.THROTTLE_WINDOW_SECONDS
        details = {"old": old, "new": tokens_per_window, "window_seconds": window}
        client_change_record(client=client, event="client.quota_set", actor=actor, details=details)
    transaction.on_commit(token_quotas_forget)
