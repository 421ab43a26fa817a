from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache

from keys.models import PublishedJwks, SigningKey

JWKS_CACHE_KEY = "authportal:jwks:published"


def jwks_build(*, now: datetime) -> dict[str, list[dict]]:
    """The public JWKS: every staged, active and retired key that has not expired."""
    keys = (
        SigningKey.objects.filter(state__in=SigningKey.PUBLISHED_STATES)
        .defer("private_key_encrypted")
        .order_by("created_at", "kid")
    )
    return {"keys": [key.public_jwk for key in keys if key.is_publishable(now)]}


def jwks_serialize(jwks: dict) -> tuple[bytes, str]:
    """The document's bytes and a strong ETag for them."""
    body = json.dumps(jwks, separators=(",", ":"), sort_keys=True).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def jwks_published() -> tuple[bytes, str] | None:
    """The published document and its ETag: from the cache, else from the database."""
    cached = cache.get(JWKS_CACHE_KEY)
    if cached is not None:
        return cached
    row = PublishedJwks.objects.filter(pk=1).values_list("document", "etag").first()
    if row is None:
        return None
    published = (row[0].encode(), row[1])
    if settings.AUTHPORTAL_JWKS_CACHE_SECONDS:
        cache.set(JWKS_CACHE_KEY, published, timeout=settings.AUTHPORTAL_JWKS_CACHE_SECONDS)
    return published


def signing_key_published(*, kid: str, now: datetime) -> SigningKey | None:
    """The key `kid` if it is in the JWKS now (staged, active or retired, not expired); else None.

    A revoked or expired key is not: tokens it signed must no longer be accepted.
    """
    key = (
        SigningKey.objects.filter(kid=kid, state__in=SigningKey.PUBLISHED_STATES)
        .defer("private_key_encrypted")
        .first()
    )
    return key if key is not None and key.is_publishable(now) else None


@dataclass(frozen=True)
class KeyScheduleRow:
    key: SigningKey
    activates_at: datetime | None
    retires_at: datetime | None
    expires_at: datetime | None


def key_schedule() -> list[KeyScheduleRow]:
    """Every key with when it activated or will, and when it retires and expires (as now planned)."""
    from keys.services import LifecycleTiming

    timing = LifecycleTiming.from_settings()
    keys = list(SigningKey.objects.defer("private_key_encrypted").order_by("-created_at"))
    active = next((key for key in keys if key.state == SigningKey.State.ACTIVE), None)
    next_rotation = (active.activated_at or active.created_at) + timing.rotation if active else None
    rows = []
    for key in keys:
        if key.state == SigningKey.State.STAGED:
            earliest = key.published_at + timing.activation_delay if key.published_at else None
            activates = max(filter(None, [earliest, next_rotation]), default=None)
            rows.append(KeyScheduleRow(key, activates, None, None))
        elif key.state == SigningKey.State.ACTIVE:
            rows.append(KeyScheduleRow(key, key.activated_at, next_rotation, None))
        else:
            rows.append(KeyScheduleRow(key, key.activated_at, key.retired_at, key.expires_at))
    return rows
