"""Revoking access tokens before they expire: one token by its jti, or every token of a client issued
until now (a compromised client, which is also disabled or given a new secret). Each revocation is
recorded in its transaction (`revocation.recorded`); introspection honours it at once, and verifiers
within the signed revocation list's max-age (`revocation.selectors`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.actor import Actor
from audit.models import AuditEvent
from audit.recording import audit_change
from clients.changes import client_change_record
from clients.models import Client
from clients.services import client_secret_rotate, client_set_enabled
from core.conf import app_settings
from revocation.models import ClientTokensRevocation, RevokedToken

# What the compromised-client path does besides revoking: the client must not simply get new tokens.
THEN_DISABLE = "disable"
THEN_ROTATE_SECRET = "rotate_secret"  # noqa: S105 (a choice, no secret)


@transaction.atomic
def token_revoke(
    *, jti: str, client_id: str, expires_at: datetime, actor: Actor, via: str, now: datetime
) -> bool:
    """Revoke the token `jti` (its client_id claim and exp given) until it expires; False when it was
    revoked already (recorded all the same) or has expired (nothing to do, nothing recorded)."""
    if expires_at <= now:
        return False
    _, created = RevokedToken.objects.get_or_create(
        jti=jti, defaults={"client_id": client_id, "expires_at": expires_at, "revoked_at": now}
    )
    audit_change(
        actor=actor,
        event="revocation.recorded",
        subject=f"client:{client_id}",
        details={
            "kind": "token",
            "jti": jti,
            "exp": int(expires_at.timestamp()),
            "via": via,
            **({} if created else {"already": True}),
        },
    )
    return created


@dataclass(frozen=True)
class IssuedTokenRecord:
    jti: str
    client_id: str
    expires_at: datetime


def issued_token_find(*, jti: str) -> IssuedTokenRecord | None:
    """The token `jti` as its issuance row recorded it (token.issued or token.exchanged): whose it is and
    when it expires. None when no row names it (never issued, or its row purged long after it expired)."""
    row = (
        AuditEvent.objects.filter(event__in=("token.issued", "token.exchanged"), details__jti=jti)
        .values_list("actor", "details")
        .first()
    )
    if row is None:
        return None
    client_id, details = row
    return IssuedTokenRecord(
        jti=jti, client_id=client_id, expires_at=datetime.fromtimestamp(details["exp"], tz=UTC)
    )


def token_revoke_by_jti(*, jti: str, actor: Actor, via: str, now: datetime) -> IssuedTokenRecord:
    """An admin revokes one token by its jti, found in the audit log. ValidationError when it is unknown
    or has expired already."""
    record = issued_token_find(jti=jti)
    if record is None:
        raise ValidationError(f"No token with the jti {jti!r} was issued.")
    if record.expires_at <= now:
        raise ValidationError(
            f"The token {jti} expired at {record.expires_at:%Y-%m-%d %H:%M:%S} UTC already."
        )
    token_revoke(
        jti=jti, client_id=record.client_id, expires_at=record.expires_at, actor=actor, via=via, now=now
    )
    return record


@transaction.atomic
def client_tokens_revoke(*, client: Client, then: str, actor: Actor, via: str, now: datetime) -> str | None:
    """The compromised client: every token it obtained up to and including this second is revoked (its
    `iat` is before `not_before`), and the client is disabled (`then=disable`) or given a new secret at
    once, the old one dead (`then=rotate_secret`, which returns the new secret, shown once).

    The revocation is kept until the last token it can affect has expired (AUTHPORTAL_TOKEN_LIFETIME_MAX).
    """
    if then not in (THEN_DISABLE, THEN_ROTATE_SECRET):
        raise ValidationError("Choose what happens to the client: disable it or rotate its secret.")
    if then == THEN_ROTATE_SECRET and client.uses_keys:
        raise ValidationError(
            "This client authenticates with its keys: disable it, then replace its keys, rather than rotate a secret."
        )
    # Tokens carry whole seconds: those issued in this very second are revoked too.
    not_before = datetime.fromtimestamp(math.floor(now.timestamp()) + 1, tz=UTC)
    expires_at = not_before + timedelta(seconds=app_settings.TOKEN_LIFETIME_MAX)
    ClientTokensRevocation.objects.update_or_create(
        client_id=client.client_id, defaults={"not_before": not_before, "expires_at": expires_at}
    )
    details = {"kind": "client", "not_before": int(not_before.timestamp()), "via": via, "then": then}
    client_change_record(client=client, event="revocation.recorded", actor=actor, details=details)
    if then == THEN_DISABLE:
        client_set_enabled(client=client, enabled=False, actor=actor)
        return None
    return client_secret_rotate(client=client, old_secret_valid_for=timedelta(0), actor=actor)


def revocations_purge(*, now: datetime) -> int:
    """Delete revocations whose tokens have all expired; how many."""
    tokens, _ = RevokedToken.objects.filter(expires_at__lte=now).delete()
    clients, _ = ClientTokensRevocation.objects.filter(expires_at__lte=now).delete()
    return tokens + clients
