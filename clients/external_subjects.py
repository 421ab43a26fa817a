"""User tokens of trusted issuers: their keys, and `external_subject_verify`, which the RFC 8693 token
exchange calls for `subject_token_type=urn:ietf:params:oauth:token-type:jwt`.

A token is accepted only when every check passes: its `iss` is exactly a registered issuer's; its
header's `alg` is one that issuer allows (never `none` nor HMAC: only asymmetric algorithms can be
registered); its `kid` names a key of that issuer's JWKS whose type fits the algorithm; the signature
verifies (PyJWT); `aud` contains the expected audience; `exp` is present and in the future, `nbf` and
`iat`, when present, not in the future (each with LEEWAY_SECONDS); the user claim is a non-empty
string of at most USER_ID_MAX_LENGTH characters.

The subject a token exchange issues for is `user:<slug>:<user id, percent-encoded>`
(`external_subject_name`). Client ids are letters and digits, so no client id has a colon; a slug has
none either, and the user id is encoded so that it has none, so the first colon after the slug always
ends it: no user id of one issuer can read as another issuer's user, or as a client.

Keys named in a token (`jku`, `x5u`, `jwk`, `x5c`) are never used: only the registered JWKS, fetched
over https (http only on loopback), never following a redirect, within a time and size limit, and
cached as its `Cache-Control` says; an unknown `kid` refetches at most once per cooldown. The same
approach as the SDK's `authportal_client.keys`, which the server does not depend on.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from typing import Any
from urllib.parse import quote, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import (
    SECP256R1,
    SECP384R1,
    SECP521R1,
    EllipticCurvePublicKey,
)
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from django.utils import timezone

from clients.models import TrustedIssuer

log = logging.getLogger(__name__)

# Asymmetric only: a JWKS is public, so an HMAC "key" from it would be a secret everybody knows.
ALLOWED_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
DEFAULT_ALGORITHMS = ("RS256", "ES256")
_EC_CURVES = {"ES256": SECP256R1, "ES384": SECP384R1, "ES512": SECP521R1}
MIN_RSA_BITS = 2048

SUBJECT_PREFIX = "user"
USER_ID_MAX_LENGTH = 255
TOKEN_MAX_LENGTH = 16384
LEEWAY_SECONDS = 30

JWKS_TIMEOUT_SECONDS = 5.0
JWKS_MAX_BYTES = 256 * 1024
JWKS_MAX_KEYS = 50
JWKS_REFETCH_COOLDOWN_SECONDS = 30
JWKS_DEFAULT_MAX_AGE = 300
JWKS_LONGEST_MAX_AGE = 86400
# While the JWKS cannot be fetched, the keys we have keep verifying for this long after their copy
# expired; after that, tokens are refused until the issuer answers again.
JWKS_STALE_LIMIT_SECONDS = 3600

_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})
_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})


class ExternalTokenError(Exception):
    """A subject token that must not be trusted. `reason` is a stable code for the audit row's details;
    the message is fixed text (never the token's bytes), safe to log and to send as error_description."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class ExternalKeysUnavailable(ExternalTokenError):
    """The issuer's JWKS could not be fetched and no usable copy is cached: the token may be good, so
    the exchange may answer `temporarily_unavailable` rather than call the token invalid."""


@dataclass(frozen=True)
class ExternalSubject:
    subject: str  # user:<slug>:<percent-encoded user id>, the `sub` of the token the exchange issues
    user_id: str  # as the issuer wrote it
    issuer: str
    issuer_slug: str
    issuer_pk: int
    expires_at: datetime  # the subject token's `exp`: what the exchange issues should not outlive it
    claims: dict[str, Any]  # every verified claim, for the exchange's own decisions


def external_subject_name(*, slug: str, user_id: str) -> str:
    """`user:<slug>:<user id>`, the user id percent-encoded (all but A-Z a-z 0-9 - . _ ~), so it holds
    no colon and two different user ids never give the same name. ValueError for text that is not
    valid Unicode (a lone surrogate)."""
    try:
        encoded = quote(user_id, safe="")
    except UnicodeEncodeError:
        raise ValueError("the user id is not valid Unicode") from None
    return f"{SUBJECT_PREFIX}:{slug}:{encoded}"


def external_subject_verify(*, token: str, now: datetime | None = None) -> ExternalSubject:
    """The user a trusted issuer's token names, after every check; ExternalTokenError says which failed.

    May fetch the issuer's JWKS (at most JWKS_TIMEOUT_SECONDS): call it outside a transaction.
    """
    now = now or timezone.now()
    timestamp = now.timestamp()
    if not isinstance(token, str) or not 0 < len(token) <= TOKEN_MAX_LENGTH:
        raise ExternalTokenError("malformed", "The subject token is empty or too long.")
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise ExternalTokenError("malformed", "The subject token is not a JWT.") from None
    iss = unverified.get("iss")
    if not isinstance(iss, str) or not iss:
        raise ExternalTokenError("missing_claim", "The subject token has no iss.")
    # A registered issuer is at most 255 printable characters: anything else (a NUL, which PostgreSQL
    # cannot even compare) is no issuer of ours and never reaches the database.
    issuer = (
        TrustedIssuer.objects.filter(issuer=iss).first() if len(iss) <= 255 and iss.isprintable() else None
    )
    if issuer is None:
        raise ExternalTokenError("unknown_issuer", "The subject token's issuer is not trusted.")

    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm not in issuer.algorithms:
        raise ExternalTokenError("algorithm_not_allowed", "The subject token's algorithm is not allowed.")
    key = _verification_key(issuer, header, algorithm, timestamp)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=issuer.audience,
            issuer=issuer.issuer,
            # Times are checked below against `now`, and the user claim by our own rules.
            options={
                "require": ["iss", "aud", "exp"],
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_sub": False,
                "verify_jti": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise ExternalTokenError("bad_signature", "The subject token's signature does not verify.") from None
    except jwt.MissingRequiredClaimError as error:
        raise ExternalTokenError("missing_claim", f"The subject token has no {error.claim}.") from None
    except jwt.InvalidAudienceError:
        raise ExternalTokenError("wrong_audience", "The subject token is not for this audience.") from None
    except jwt.InvalidIssuerError:
        raise ExternalTokenError("wrong_issuer", "The subject token's issuer is not trusted.") from None
    except jwt.PyJWTError:
        raise ExternalTokenError("malformed", "The subject token could not be verified.") from None

    expires = _times_check(claims, timestamp)
    user_id = claims.get(issuer.user_claim)
    if user_id is None:
        raise ExternalTokenError("missing_user_claim", f"The subject token has no {issuer.user_claim}.")
    if not isinstance(user_id, str) or not 0 < len(user_id) <= USER_ID_MAX_LENGTH:
        raise ExternalTokenError(
            "bad_user_claim",
            f"The subject token's {issuer.user_claim} is not a string of 1 to {USER_ID_MAX_LENGTH} characters.",
        )
    try:
        subject = external_subject_name(slug=issuer.slug, user_id=user_id)
    except ValueError:
        raise ExternalTokenError(
            "bad_user_claim", f"The subject token's {issuer.user_claim} is not valid Unicode."
        ) from None
    return ExternalSubject(
        subject=subject,
        user_id=user_id,
        issuer=issuer.issuer,
        issuer_slug=issuer.slug,
        issuer_pk=issuer.pk,
        expires_at=datetime.fromtimestamp(expires, tz=UTC),
        claims=claims,
    )


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None and name not in claims:
        return None
    # RFC 7519 §2: a JSON number. Python's json also reads NaN and Infinity, which are not dates.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ExternalTokenError("malformed", f"The subject token's {name} is not a NumericDate.")
    return float(value)


def _times_check(claims: dict[str, Any], now: float) -> float:
    expires = _numeric_date(claims, "exp")
    assert expires is not None  # required above
    if now >= expires + LEEWAY_SECONDS:
        raise ExternalTokenError("expired", "The subject token has expired.")
    not_before = _numeric_date(claims, "nbf")
    if not_before is not None and not_before > now + LEEWAY_SECONDS:
        raise ExternalTokenError("not_yet_valid", "The subject token is not valid yet (nbf).")
    issued = _numeric_date(claims, "iat")
    if issued is not None and issued > now + LEEWAY_SECONDS:
        raise ExternalTokenError("issued_in_future", "The subject token is issued in the future (iat).")
    if issued is not None and expires < issued:
        raise ExternalTokenError("malformed", "The subject token expires before it is issued.")
    return expires


def _verification_key(issuer: TrustedIssuer, header: dict[str, Any], algorithm: str, now: float) -> Any:
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or not 0 < len(kid) <= 256):
        raise ExternalTokenError("malformed", "The subject token's kid is not a short string.")
    if issuer.jwks_uri:
        jwk = _cache_for(issuer).key(kid, now)
    else:
        try:
            jwk = _key_pick(jwks_public_keys(issuer.jwks), kid)
        except ValueError:
            raise ExternalKeysUnavailable(
                "jwks_unavailable", "The issuer's stored JWKS is unusable."
            ) from None
    if jwk is None:
        raise ExternalTokenError("unknown_kid", "The subject token's key is not in its issuer's JWKS.")
    if jwk.get("alg", algorithm) != algorithm:
        raise ExternalTokenError("bad_key", "The subject token's key is for another algorithm.")
    try:
        key = jwt.PyJWK(jwk, algorithm).key
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        raise ExternalTokenError("bad_key", "The subject token's key does not fit its algorithm.") from None
    if isinstance(key, RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise ExternalTokenError("bad_key", f"The subject token's RSA key is under {MIN_RSA_BITS} bits.")
    if isinstance(key, EllipticCurvePublicKey) and not isinstance(key.curve, _EC_CURVES.get(algorithm, ())):
        raise ExternalTokenError("bad_key", "The subject token's key is on the wrong curve.")
    return key


def _key_pick(keys: dict[str, dict[str, Any]], kid: str | None) -> dict[str, Any] | None:
    if kid is None:
        # A token without a kid is accepted only from an issuer with a single key: never a guess.
        return next(iter(keys.values())) if len(keys) == 1 else None
    return keys.get(kid)


def jwks_public_keys(document: Any) -> dict[str, dict[str, Any]]:
    """The usable public signing keys of a JWKS by kid (a single key may lack one: its kid is "").

    ValueError when the document is no JWKS or holds no usable key; unusable keys are left out.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError('a JWKS must be a JSON object with a "keys" array')
    if len(document["keys"]) > JWKS_MAX_KEYS:
        raise ValueError(f"a JWKS of more than {JWKS_MAX_KEYS} keys is refused")
    keys: dict[str, dict[str, Any]] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or jwk.get("kty") not in _KEY_TYPES or _PRIVATE_MEMBERS & set(jwk):
            continue  # never "oct", never a private key
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", "RS256") not in ALLOWED_ALGORITHMS:
            continue
        kid = jwk.get("kid", "")
        if not isinstance(kid, str) or len(kid) > 256 or (not kid and len(document["keys"]) > 1):
            continue
        try:
            jwt.PyJWK(jwk)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue
        keys.setdefault(kid, jwk)
    if not keys:
        raise ValueError("the JWKS holds no usable public signing key")
    return keys


def trusted_issuer_url_check(url: str, *, what: str) -> None:
    """https, or http on a loopback host (a test or a sidecar on this machine); no credentials or
    fragment. ValueError says what is wrong."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (raises for a port that is not a number)
    except ValueError:
        raise ValueError(f"the {what} is not a URL") from None
    if any(ch.isspace() for ch in url) or not host or parts.fragment or "#" in url:
        raise ValueError(f"the {what} must be an absolute https URL without a fragment")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"the {what} must not hold credentials")
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and _is_loopback(host):
        return
    raise ValueError(f"the {what} must use https (http only on a loopback host)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- The JWKS of an issuer registered with a URL, cached per process ---------------------------------


@dataclass(frozen=True)
class _Fetched:
    keys: dict[str, dict[str, Any]] | None  # None: not modified since the ETag we sent
    etag: str | None
    max_age: int | None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A JWKS that moves is a registration to change, not something a response may decide.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def jwks_fetch(url: str, *, etag: str | None = None) -> _Fetched:
    """GET a JWKS: no redirect followed, at most JWKS_MAX_BYTES, within JWKS_TIMEOUT_SECONDS.
    OSError or ValueError says why it failed."""
    trusted_issuer_url_check(url, what="JWKS URL")
    headers = {"Accept": "application/jwk-set+json, application/json", "User-Agent": "authportal"}
    if etag:
        headers["If-None-Match"] = etag
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (scheme checked above)
    deadline = time.monotonic() + JWKS_TIMEOUT_SECONDS
    try:
        with _opener.open(request, timeout=JWKS_TIMEOUT_SECONDS) as response:
            body = _read_capped(response, deadline)
            response_headers = response.headers
    except urllib.error.HTTPError as error:
        error.close()
        if error.code == 304 and etag:
            return _Fetched(None, etag, _max_age(error.headers))
        if 300 <= error.code < 400:
            raise OSError(
                f"the JWKS URL answered HTTP {error.code}, a redirect, which is not followed"
            ) from None
        raise OSError(f"the JWKS URL answered HTTP {error.code}") from None
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise ValueError("the JWKS URL did not answer JSON") from None
    return _Fetched(jwks_public_keys(document), response_headers.get("ETag"), _max_age(response_headers))


def _read_capped(response: Any, deadline: float) -> bytes:
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > JWKS_MAX_BYTES:
        raise OSError(f"the JWKS is larger than {JWKS_MAX_BYTES} bytes")
    chunks, size = [], 0
    while chunk := response.read(16384):
        size += len(chunk)
        if size > JWKS_MAX_BYTES:
            raise OSError(f"the JWKS is larger than {JWKS_MAX_BYTES} bytes")
        if time.monotonic() > deadline:  # a server that trickles bytes to hold us
            raise OSError(f"the JWKS took longer than {JWKS_TIMEOUT_SECONDS:g} s")
        chunks.append(chunk)
    return b"".join(chunks)


def _max_age(headers: Message) -> int | None:
    """`Cache-Control: max-age` in seconds; 0 for no-store or no-cache; None when it says neither."""
    seconds = None
    for directive in headers.get("Cache-Control", "").lower().split(","):
        name, _, value = directive.strip().partition("=")
        if name in ("no-store", "no-cache"):
            return 0
        if name == "max-age":
            value = value.strip().strip('"')
            seconds = int(value) if value.isdigit() else 0
    return seconds


class _JwksCache:
    """One issuer's keys for as long as `Cache-Control: max-age` says (JWKS_DEFAULT_MAX_AGE when it
    says nothing, JWKS_LONGEST_MAX_AGE at most). A stale copy or an unknown kid fetches again, at most
    once per JWKS_REFETCH_COOLDOWN_SECONDS, one fetch at a time; if the fetch fails, the keys we have
    keep verifying until JWKS_STALE_LIMIT_SECONDS past their expiry."""

    def __init__(self, url: str):
        self.url = url
        self.keys: dict[str, dict[str, Any]] | None = None
        self.etag: str | None = None
        self.expires_at = float("-inf")
        self.last_attempt = float("-inf")
        self.fetches = 0
        self.lock = threading.Lock()

    def key(self, kid: str | None, now: float) -> dict[str, Any] | None:
        keys = self.keys
        if keys is not None and now < self.expires_at and (found := _key_pick(keys, kid)) is not None:
            return found
        if not self.lock.acquire(timeout=2 * JWKS_TIMEOUT_SECONDS):
            raise ExternalKeysUnavailable(
                "jwks_unavailable", "The issuer's keys are being fetched; try again."
            )
        try:
            if now >= self.last_attempt + JWKS_REFETCH_COOLDOWN_SECONDS and (
                self.keys is None or now >= self.expires_at or _key_pick(self.keys, kid) is None
            ):
                self._refresh(now)
            if self.keys is None or now >= self.expires_at + JWKS_STALE_LIMIT_SECONDS:
                raise ExternalKeysUnavailable(
                    "jwks_unavailable", "The issuer's keys cannot be fetched; try again later."
                )
            return _key_pick(self.keys, kid)
        finally:
            self.lock.release()

    def _refresh(self, now: float) -> None:
        self.last_attempt = now
        self.fetches += 1
        try:
            fetched = jwks_fetch(self.url, etag=self.etag if self.keys is not None else None)
        except (OSError, ValueError) as error:
            log.warning("JWKS of a trusted issuer at %s: %s", self.url[:200], error)
            return
        ttl = JWKS_DEFAULT_MAX_AGE if fetched.max_age is None else min(fetched.max_age, JWKS_LONGEST_MAX_AGE)
        if fetched.keys is not None:
            self.keys = fetched.keys
        self.etag = fetched.etag
        self.expires_at = now + ttl


_caches: dict[tuple[int, str], _JwksCache] = {}
_caches_lock = threading.Lock()


def _cache_for(issuer: TrustedIssuer) -> _JwksCache:
    # Keyed by the row and its URL: an issuer removed and added again starts a fresh copy.
    key = (issuer.pk, issuer.jwks_uri)
    with _caches_lock:
        if key not in _caches:
            _caches[key] = _JwksCache(issuer.jwks_uri)
        return _caches[key]


def external_jwks_forget() -> None:
    """Drop every cached JWKS of this process (tests; a process that wants a fresh start)."""
    with _caches_lock:
        _caches.clear()
        _owned_caches.clear()


# --- The same cache for any registered JWKS URL (a client's, for private_key_jwt) -------------------

_owned_caches: dict[tuple[str, str], _JwksCache] = {}


def jwks_uri_key(*, owner: str, url: str, kid: str | None, now: float) -> dict[str, Any] | None:
    """The public JWK `kid` of the JWKS at `url`, fetched and cached exactly as a trusted issuer's is
    (`Cache-Control`, the refetch cooldown on an unknown kid, one fetch at a time, the stale limit);
    None when the JWKS has no such key. `owner` names whose registration it is (a client id), so a
    registration removed and added again starts a fresh copy. ExternalKeysUnavailable when the JWKS
    cannot be fetched and no usable copy is left."""
    key = (owner, url)
    with _caches_lock:
        cache = _owned_caches.get(key)
        if cache is None:
            cache = _owned_caches[key] = _JwksCache(url)
    return cache.key(kid, now)
