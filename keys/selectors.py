from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from audit.rows import RowCondition
from keys.models import PublishedJwks, SigningKey
from keys.timing import LifecycleTiming


def signing_key_usable_sql(kid_parameter: str) -> str:
    """SQL true while the kid in `kid_parameter` is the active key and published: for a statement that
    must decide it in its own snapshot (the token's conditional audit INSERT, audit/inflight.py).

    Every path that makes a key active publishes the JWKS in the same transaction, and the JWKS
    endpoint serves the committed document, so a token whose row commits under this condition names
    a kid that every process's JWKS lists; a retired, revoked or expired key fails it at once.
    """
    table = SigningKey._meta.db_table
    return (
        f"EXISTS (SELECT 1 FROM {table} WHERE kid = {kid_parameter} "  # noqa: S608 (names from the model)
        f"AND state = '{SigningKey.State.ACTIVE}' AND published_at IS NOT NULL)"
    )


def signing_key_usable(kid: str) -> RowCondition:
    """The token's audit row is written only while `kid` is the active, published key (audit.rows)."""
    return RowCondition(name="signing_key", sql=signing_key_usable_sql("{}"), params=(kid,), casts=("text",))


def signing_key_current() -> SigningKey | None:
    """The key that signs now, or None on a brand-new installation."""
    return SigningKey.objects.filter(state=SigningKey.State.ACTIVE).order_by("-activated_at").first()


def jwks_build(*, now: datetime) -> dict[str, list[dict[str, str]]]:
    """The public JWKS: every staged, active and retired key that has not expired."""
    keys = (
        SigningKey.objects.filter(state__in=SigningKey.PUBLISHED_STATES)
        .defer("private_key_encrypted")
        .order_by("created_at", "kid")
    )
    return {"keys": [key.public_jwk for key in keys if key.is_publishable(now)]}


def jwks_serialize(jwks: dict[str, list[dict[str, str]]]) -> tuple[bytes, str]:
    """The document's bytes and a strong ETag for them."""
    body = json.dumps(jwks, separators=(",", ":"), sort_keys=True).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def jwks_published() -> tuple[bytes, str] | None:
    """The published document and its ETag, read from the database on every call.

    No cache in front: a copy kept anywhere but the database (a process's memory, Redis) could
    still list a revoked kid, or not yet list the kid that signs, and would have to be checked
    against the database anyway. Verifiers cache the document for max-age themselves, so what is
    left here is one primary-key read of a single row, and it works with Redis down.
    """
    row = PublishedJwks.objects.filter(pk=1).values_list("document", "etag").first()
    if row is None:
        return None
    return row[0].encode(), row[1]


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


def key_active_kid() -> str:
    """The kid of the key that signs now, "" when there is none yet: what "Rotate now" replaces."""
    return (
        SigningKey.objects.filter(state=SigningKey.State.ACTIVE).values_list("kid", flat=True).first() or ""
    )
