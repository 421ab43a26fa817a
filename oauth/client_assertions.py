"""private_key_jwt client authentication (RFC 7523 §2.2, RFC 7521 §4.2, draft-ietf-oauth-rfc7523bis).

A client registered with public keys (`Client.jwks` or `Client.jwks_uri`) authenticates by sending
`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and `client_assertion`,
a JWT it signed. The assertion is accepted only when every check passes, in this order, each refusal
an `invalid_client` (401) whose exact reason (`client assertion: <reason>`) goes to the audit row only:

- a compact JWS of at most ASSERTION_MAX_LENGTH characters (`malformed`);
- `alg` one of ALGORITHMS, never `none` nor HMAC (`algorithm_not_allowed`); `typ`, when present,
  `JWT` or `client-authentication+jwt` (`wrong_typ`);
- `iss` = `sub` = the client id, and the body's `client_id` when given (`missing_claim`,
  `iss_sub_mismatch`, `client_id_mismatch`); a registered client with keys, enabled (`unknown client`,
  `client has no registered keys…`, `client disabled`);
- its `kid` names one of the client's keys (without `kid`: only when it has one key), of a type that
  fits the algorithm (`unknown_kid`, `bad_key`), and the signature verifies with it (PyJWT) (`bad_signature`);
- `aud` is our issuer identifier, a single string (rfc7523bis §4), or the token endpoint's URL
  (RFC 7523's reading, which Authlib and other client libraries send by default) unless
  AUTHPORTAL_CLIENT_ASSERTION_TOKEN_ENDPOINT_AUDIENCE is off (`wrong_audience`);
- `exp` present, not past, at most AUTHPORTAL_CLIENT_ASSERTION_MAX_LIFETIME ahead (`expired`,
  `too_long_lived`); `iat` and `nbf`, when present, not in the future (`issued_in_future`,
  `not_yet_valid`); each with LEEWAY_SECONDS;
- `jti` present, and never seen before for this client until `exp` (`missing_claim`, `replayed_jti`):
  in Redis when REDIS_URL is set (SET NX with the expiry), else in `oauth.UsedClientAssertion`.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from redis.exceptions import RedisError

from audit.inflight import AuditWriteFailed
from clients.external_subjects import ExternalKeysUnavailable, jwks_public_keys, jwks_uri_key
from clients.selectors import (
    AuthenticatedClient,
    ClientAuthFailure,
    KeyHoldingClient,
    client_key_holder,
    client_key_holder_cached,
)
from core.conf import app_settings
from oauth.errors import OAuthError, invalid_client
from oauth.models import UsedClientAssertion

log = logging.getLogger(__name__)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# The algorithms a client may sign with (never `none`, never HMAC: its keys are public), and the one
# key shape each fits.
ALGORITHMS: dict[str, type] = {
    "RS256": RSAPublicKey,
    "PS256": RSAPublicKey,
    "ES256": EllipticCurvePublicKey,
    "EdDSA": Ed25519PublicKey,
}
ACCEPTED_TYPS = frozenset({"jwt", "client-authentication+jwt"})
ASSERTION_MAX_LENGTH = 8192
JTI_MAX_LENGTH = 255
LEEWAY_SECONDS = 30
MIN_RSA_BITS = 2048
_REPLAY_KEY_PREFIX = "authportal:client-assertion:"

Decided = TypeVar("Decided")


class AssertionRefused(OAuthError):
    """An assertion that does not authenticate its client: `invalid_client`, the reason audited."""

    def __init__(self, reason: str) -> None:
        refusal = invalid_client(f"client assertion: {reason}")
        super().__init__(refusal.error, refusal.description, status=refusal.status, reason=refusal.reason)
        self.assertion_reason = reason


@dataclass(frozen=True)
class _Unverified:
    header: dict[str, Any]
    claims: dict[str, Any]
    client_id: str
    algorithm: str


def assertion_client_id(assertion: str) -> str:
    """The client id an assertion claims to be from (its `iss`), unverified, for the audit row of a
    refusal; "" when it cannot be read."""
    try:
        issuer = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
    except (jwt.PyJWTError, ValueError, TypeError):
        return ""
    return issuer if isinstance(issuer, str) else ""


def client_assertion_decided(
    *,
    assertion: str,
    client_id: str | None,
    decide: Callable[[AuthenticatedClient], Decided | None],
    now: datetime | None = None,
) -> Decided:
    """Authenticate the client by its assertion, then run a grant's `decide` for it (as
    `oauth.services.client_decided` does for a secret): `decide` returns None when its audit row did not
    commit because the registry changed since the client was read, and the client's keys are read again
    and the assertion checked against them before deciding anew. The jti is spent once, whatever happens.

    A client this process has seen is first checked against its cached keys and decided with no query
    before the audit INSERT (`clients.selectors.client_key_holder_cached`); a refusal, of the assertion
    or of the grant, is never decided on the cache: the client is read afresh then.
    """
    now = now or timezone.now()
    unverified = _unverified(assertion, client_id)
    spent = False
    cached = client_key_holder_cached(client_id=unverified.client_id)
    if cached is not None:
        try:
            client = _checked_against(cached, assertion, unverified, now)
        except OAuthError:
            pass  # perhaps the keys changed since they were cached: the fresh read below decides
        else:
            _jti_spend_for(client, now)
            spent = True
            try:
                decided = decide(client)
            except OAuthError:
                decided = None
            if decided is not None:
                return decided
    for _ in range(_REGISTRY_RACE_ATTEMPTS):
        client = _verified_client(assertion=assertion, unverified=unverified, now=now)
        if not spent:
            _jti_spend_for(client, now)
            spent = True
        try:
            decided = decide(client)
        except OAuthError as refusal:
            # The grant was refused, the assertion accepted: the refusal's row says both.
            refusal.audit_details = {**refusal.audit_details, "client_assertion": _accepted(client)}
            raise
        if decided is not None:
            return decided
    raise AuditWriteFailed("the registry kept changing while the request was being decided")


_REGISTRY_RACE_ATTEMPTS = 3


def _accepted(client: AuthenticatedClient) -> dict[str, str]:
    return {k: v for k, v in (client.authentication or {}).items() if k != "method"}


def client_assertion_authenticate(
    *, assertion: str, client_id: str | None, now: datetime | None = None
) -> AuthenticatedClient:
    """The client an assertion authenticates, after every check, with its jti spent; AssertionRefused
    (an `invalid_client` OAuthError) says why not. May fetch the client's JWKS: call it outside a
    transaction."""
    now = now or timezone.now()
    client = _verified_client(assertion=assertion, unverified=_unverified(assertion, client_id), now=now)
    _jti_spend_for(client, now)
    return client


def _jti_spend_for(client: AuthenticatedClient, now: datetime) -> None:
    """Spend the jti of the assertion `client` was authenticated by."""
    assert client.authentication is not None
    _jti_spend(
        client_id=client.client_id,
        jti=client.authentication["jti"],
        exp=float(client.authentication["exp"]),
        now=now,
    )


def _verified_client(*, assertion: str, unverified: _Unverified, now: datetime) -> AuthenticatedClient:
    """The client the assertion authenticates, its keys read afresh (its jti not spent yet)."""
    holder = client_key_holder(client_id=unverified.client_id)
    if isinstance(holder, ClientAuthFailure):
        raise invalid_client(holder.reason)
    return _checked_against(holder, assertion, unverified, now)


def _checked_against(
    holder: KeyHoldingClient, assertion: str, unverified: _Unverified, now: datetime
) -> AuthenticatedClient:
    if not holder.enabled:
        raise invalid_client("client disabled")
    key, kid = _verification_key(holder, unverified, now.timestamp())
    claims = _signature_check(assertion, key, unverified.algorithm)
    expires = _times_check(claims, now.timestamp())
    _audience_check(claims.get("aud"))
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= JTI_MAX_LENGTH:
        raise AssertionRefused("missing_claim")
    return replace(
        holder.client,
        authentication={
            "method": "private_key_jwt",
            "kid": kid,
            "alg": unverified.algorithm,
            "jti": jti,
            "exp": str(int(expires)),
        },
    )


def _unverified(assertion: str, client_id: str | None) -> _Unverified:
    if not 0 < len(assertion) <= ASSERTION_MAX_LENGTH or assertion.count(".") != 2:
        raise AssertionRefused("malformed")
    try:
        unverified = jwt.decode_complete(assertion, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError):
        raise AssertionRefused("malformed") from None
    header, claims = unverified["header"], unverified["payload"]
    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise AssertionRefused("algorithm_not_allowed")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in ACCEPTED_TYPS):
        raise AssertionRefused("wrong_typ")
    iss, sub = claims.get("iss"), claims.get("sub")
    if not isinstance(iss, str) or not iss or not isinstance(sub, str) or not sub:
        raise AssertionRefused("missing_claim")
    if iss != sub:
        raise AssertionRefused("iss_sub_mismatch")
    if client_id is not None and client_id != iss:
        raise AssertionRefused("client_id_mismatch")
    return _Unverified(header=header, claims=claims, client_id=iss, algorithm=algorithm)


def _verification_key(holder: KeyHoldingClient, unverified: _Unverified, now: float) -> tuple[Any, str]:
    kid = unverified.header.get("kid")
    if kid is not None and (not isinstance(kid, str) or not 0 < len(kid) <= 256):
        raise AssertionRefused("malformed")
    if holder.jwks_uri:
        try:
            jwk = jwks_uri_key(owner=holder.client.client_id, url=holder.jwks_uri, kid=kid, now=now)
        except ExternalKeysUnavailable:
            # The client's keys cannot be read: the assertion may be good, so this is no refusal of it.
            raise OAuthError(
                "temporarily_unavailable",
                "The client's keys cannot be fetched; retry shortly.",
                status=503,
                reason="client assertion: jwks_unavailable",
            ) from None
    else:
        try:
            keys = jwks_public_keys(holder.jwks)
        except ValueError:
            raise AssertionRefused("unknown_kid") from None
        jwk = (next(iter(keys.values())) if len(keys) == 1 else None) if kid is None else keys.get(kid)
    if jwk is None:
        raise AssertionRefused("unknown_kid")
    algorithm = unverified.algorithm
    if jwk.get("alg", algorithm) != algorithm:
        raise AssertionRefused("bad_key")
    try:
        key = jwt.PyJWK(jwk, algorithm).key
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        raise AssertionRefused("bad_key") from None
    if not isinstance(key, ALGORITHMS[algorithm]):
        raise AssertionRefused("bad_key")
    if isinstance(key, RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise AssertionRefused("bad_key")
    if isinstance(key, EllipticCurvePublicKey) and not isinstance(key.curve, SECP256R1):
        raise AssertionRefused("bad_key")
    return key, jwk.get("kid") or kid or ""


def _signature_check(assertion: str, key: Any, algorithm: str) -> dict[str, Any]:
    try:
        return jwt.decode(
            assertion,
            key,
            algorithms=[algorithm],
            # Claims are checked below, by the rules above, against the request's `now`.
            options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.InvalidSignatureError:
        raise AssertionRefused("bad_signature") from None
    except jwt.PyJWTError:
        raise AssertionRefused("malformed") from None


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AssertionRefused("malformed")
    return float(value)


def _times_check(claims: dict[str, Any], now: float) -> float:
    expires = _numeric_date(claims, "exp")
    if expires is None:
        raise AssertionRefused("missing_claim")
    if now >= expires + LEEWAY_SECONDS:
        raise AssertionRefused("expired")
    if expires > now + app_settings.CLIENT_ASSERTION_MAX_LIFETIME + LEEWAY_SECONDS:
        raise AssertionRefused("too_long_lived")
    issued = _numeric_date(claims, "iat")
    if issued is not None and issued > now + LEEWAY_SECONDS:
        raise AssertionRefused("issued_in_future")
    not_before = _numeric_date(claims, "nbf")
    if not_before is not None and not_before > now + LEEWAY_SECONDS:
        raise AssertionRefused("not_yet_valid")
    return expires


def accepted_audiences() -> tuple[str, ...]:
    """What an assertion's `aud` may be: our issuer identifier, and (unless turned off) the token
    endpoint's URL. The URLs of the introspection and revocation endpoints are not accepted: an
    assertion is for this server, and rfc7523bis names it by its issuer identifier alone."""
    issuer = app_settings.ISSUER
    if app_settings.CLIENT_ASSERTION_TOKEN_ENDPOINT_AUDIENCE:
        return (issuer, issuer + reverse("oauth:token"))
    return (issuer,)


def _audience_check(audience: Any) -> None:
    # rfc7523bis §4: a single string, not an array (an array may name other servers as well).
    if not isinstance(audience, str) or audience not in accepted_audiences():
        raise AssertionRefused("wrong_audience")


def _jti_spend(*, client_id: str, jti: str, exp: float, now: datetime) -> None:
    key = hashlib.sha256(f"{client_id}\0{jti}".encode()).hexdigest()
    expires_at = datetime.fromtimestamp(exp + LEEWAY_SECONDS, tz=UTC)
    if settings.REDIS_URL:
        timeout = max(1, math.ceil((expires_at - now).total_seconds()))
        try:
            first = cache.add(_REPLAY_KEY_PREFIX + key, 1, timeout=timeout)
        except RedisError as error:  # Redis holds the jtis: while it is away, none can be spent
            log.warning("client assertion jti store (Redis) failed: %s", type(error).__name__)
            raise OAuthError(
                "temporarily_unavailable",
                "The server cannot answer right now; retry shortly.",
                status=503,
                reason="client assertion: jti store unavailable",
            ) from None
        if not first:
            raise AssertionRefused("replayed_jti")
        return
    try:
        with transaction.atomic():
            UsedClientAssertion.objects.create(key=key, expires_at=expires_at)
    except IntegrityError:
        if UsedClientAssertion.objects.filter(key=key, expires_at__gt=now).exists():
            raise AssertionRefused("replayed_jti") from None
        # An expired row not purged yet: the assertion is new (its exp is ahead), so take the key over,
        # once: of two requests racing for it, one updates the row and the other is the replay.
        if not UsedClientAssertion.objects.filter(key=key, expires_at__lte=now).update(expires_at=expires_at):
            raise AssertionRefused("replayed_jti") from None


def used_client_assertions_purge(*, now: datetime) -> int:
    """Delete the spent jtis whose assertions have expired; how many."""
    deleted, _ = UsedClientAssertion.objects.filter(expires_at__lte=now).delete()
    return deleted
