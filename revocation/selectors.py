"""Reads of what is revoked: for introspection (at once, from the database) and for the signed
revocation list that verifiers fetch and cache (its max-age is how long a revocation takes to reach them)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Q

from core.conf import app_settings
from keys.selectors import signing_key_published
from keys.tokens import Signer, signer_active, signer_recheck
from revocation.models import ClientTokensRevocation, RevokedToken

# The revocation list's JOSE header `typ`: it is no access token, and a verifier checks this.
REVOCATION_LIST_TYP = "revocation-list+jwt"


def token_revoked(*, jti: str, client_id: str, issued_at: float, now: datetime) -> bool:
    """Whether the token with this jti, client_id claim and iat is revoked now: one query."""
    return (
        RevokedToken.objects.filter(jti=jti, expires_at__gt=now).exists()
        or ClientTokensRevocation.objects.filter(
            Q(client_id=client_id) & Q(expires_at__gt=now) & Q(not_before__gt=_as_datetime(issued_at))
        ).exists()
    )


def _as_datetime(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def revocation_list_claims(*, now: datetime) -> dict[str, object]:
    """The list's content: each revoked jti with its token's exp, and each client's not-before (every
    token with that client_id and an iat before it is revoked); only what still affects a live token."""
    jtis = dict(
        RevokedToken.objects.filter(expires_at__gt=now).order_by("jti").values_list("jti", "expires_at")
    )
    clients = dict(
        ClientTokensRevocation.objects.filter(expires_at__gt=now)
        .order_by("client_id")
        .values_list("client_id", "not_before")
    )
    return {
        "iss": app_settings.ISSUER,
        "revoked_jtis": {jti: int(expires.timestamp()) for jti, expires in jtis.items()},
        "clients_not_before": {client: int(moment.timestamp()) for client, moment in clients.items()},
    }


@dataclass(frozen=True)
class RevocationList:
    """The list as it stands, and the key that signs it; `etag` names both, so a verifier that holds a
    list with this ETag holds the same revocations (a 304 needs no signature)."""

    claims: dict[str, object]
    signer: Signer
    etag: str

    def signed(self, *, now: datetime) -> bytes:
        """A compact JWS (typ revocation-list+jwt), signed now as the JWKS's keys sign tokens (keys.tokens)."""
        return self.signer.sign(
            {**self.claims, "iat": int(now.timestamp())}, typ=REVOCATION_LIST_TYP
        ).encode()


def revocation_list_current(*, now: datetime) -> RevocationList:
    """The revocation list now, with the active signing key. SigningUnavailable when no key can sign."""
    claims = revocation_list_claims(now=now)
    signer = signer_active()
    if signing_key_published(kid=signer.kid, now=now) is None:
        # This process still holds a key that another has rotated away or revoked: verifiers would
        # not find it, so read the active key again.
        signer_recheck()
        signer = signer_active()
    digest = hashlib.sha256(json.dumps([signer.kid, claims], sort_keys=True).encode()).hexdigest()[:32]
    return RevocationList(claims=claims, signer=signer, etag=f'"{digest}"')
