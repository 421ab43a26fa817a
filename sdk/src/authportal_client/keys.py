"""Our public keys: reading a JWKS into verification keys, and caching it as the portal asks.

Only keys from the configured JWKS (URL, discovered from the issuer's metadata, or a file) ever
verify a token; nothing in a token can name a key source.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt import PyJWK
from jwt.exceptions import PyJWTError

from authportal_client import _http

log = logging.getLogger("authportal_client")

# The algorithms the portal can sign with, and the one key shape each may use.
SUPPORTED_ALGORITHMS: dict[str, type] = {
    "RS256": RSAPublicKey,
    "PS256": RSAPublicKey,
    "ES256": EllipticCurvePublicKey,
    "EdDSA": Ed25519PublicKey,
}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})
MIN_RSA_BITS = 2048
MAX_KID_LENGTH = 256


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One public key, parsed once, with the single algorithm it may verify."""

    kid: str
    algorithm: str
    key: Any
    _verify: Callable[[bytes, Any, bytes], bool]

    def verify_signature(self, signing_input: bytes, signature: bytes) -> bool:
        # PyJWT's algorithm objects: PKCS#1 v1.5 / PSS (salt = hash length) / P1363 ECDSA / Ed25519.
        return self._verify(signing_input, self.key, signature)


def key_from_jwk(jwk: Mapping[str, Any], *, kid: str | None = None) -> VerificationKey:
    """A verification key from a public JWK; ValueError says why a JWK is unusable."""
    if not isinstance(jwk, Mapping):
        raise ValueError("a JWK must be a JSON object")
    if _PRIVATE_MEMBERS & set(jwk):
        raise ValueError("the JWK holds private members; a JWKS must publish public keys only")
    if jwk.get("use", "sig") != "sig":
        raise ValueError("the JWK is not for signatures (use)")
    kid = kid if kid is not None else jwk.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH:
        raise ValueError("the JWK has no usable kid")
    algorithm = jwk.get("alg")
    if algorithm is not None and algorithm not in SUPPORTED_ALGORITHMS:
        raise ValueError(f"unsupported algorithm {str(algorithm)[:20]!r}")
    if jwk.get("kty") not in ("RSA", "EC", "OKP"):
        raise ValueError("unsupported key type")  # never "oct": a public key is no HMAC secret
    try:
        parsed = PyJWK(dict(jwk), algorithm)
    except (PyJWTError, ValueError, TypeError, KeyError) as error:
        raise ValueError(f"unreadable JWK: {type(error).__name__}") from None
    _check_shape(parsed.algorithm_name, parsed.key)
    return VerificationKey(kid, parsed.algorithm_name, parsed.key, parsed.Algorithm.verify)


def _check_shape(algorithm: str, key: Any) -> None:
    expected = SUPPORTED_ALGORITHMS.get(algorithm)
    if expected is None or not isinstance(key, expected):
        raise ValueError(f"the key does not fit algorithm {algorithm}")
    if isinstance(key, RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise ValueError(f"RSA keys under {MIN_RSA_BITS} bits are refused")
    if isinstance(key, EllipticCurvePublicKey) and not isinstance(key.curve, SECP256R1):
        raise ValueError("ES256 needs a P-256 key")


def keys_from_jwks(document: bytes | Mapping[str, Any]) -> dict[str, VerificationKey]:
    """Every usable key of a JWKS by kid; unusable ones are logged and left out, not fatal."""
    jwks = json.loads(document) if isinstance(document, bytes | str) else document
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        raise ValueError('a JWKS must be a JSON object with a "keys" array')
    keys: dict[str, VerificationKey] = {}
    for jwk in jwks["keys"]:
        try:
            key = key_from_jwk(jwk)
        except ValueError as error:
            log.warning("JWKS: skipping a key: %s", error)
            continue
        keys.setdefault(key.kid, key)
    return keys


@dataclass(frozen=True)
class Fetched:
    keys: dict[str, VerificationKey] | None  # None: not modified since `etag`
    etag: str | None
    max_age: int | None


class JwksSource:
    def fetch(self, etag: str | None) -> Fetched:
        raise NotImplementedError


class HttpJwksSource(JwksSource):
    """The JWKS at a URL, or at the `jwks_uri` of the issuer's RFC 8414 metadata."""

    def __init__(self, *, issuer: str, jwks_url: str | None, timeout: float):
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.timeout = timeout
        self.metadata: dict[str, Any] | None = (
            None  # once discovered (the revocation list's URL is there too)
        )

    def fetch(self, etag: str | None) -> Fetched:
        url = self.jwks_url or self._discover()
        headers = {"Accept": "application/jwk-set+json, application/json"}
        if etag:
            headers["If-None-Match"] = etag
        response = _http.request(url, headers=headers, timeout=self.timeout)
        if response.status == 304 and etag:
            return Fetched(None, etag, _http.max_age(response.headers))
        if response.status != 200:
            raise OSError(f"JWKS answered HTTP {response.status}")
        return Fetched(
            keys_from_jwks(response.body), response.headers.get("ETag"), _http.max_age(response.headers)
        )

    def _discover(self) -> str:
        self.metadata = discover(self.issuer, timeout=self.timeout)
        self.jwks_url = self.metadata["jwks_uri"]
        return self.jwks_url


def discover(issuer: str, *, timeout: float) -> dict[str, Any]:
    """The issuer's RFC 8414 metadata, whose `issuer` must be byte for byte ours (§3.3)."""
    response = _http.request(f"{issuer}/.well-known/oauth-authorization-server", timeout=timeout)
    if response.status != 200:
        raise OSError(f"metadata answered HTTP {response.status}")
    metadata = json.loads(response.body)
    if not isinstance(metadata, dict) or metadata.get("issuer") != issuer:
        raise OSError("the metadata names another issuer")
    for name in ("jwks_uri", "token_endpoint"):
        if not isinstance(metadata.get(name), str) or not metadata[name].startswith(("https://", "http://")):
            raise OSError(f"the metadata has no usable {name}")
    return metadata


class FileJwksSource(JwksSource):
    """A JWKS file the portal keeps up to date (AUTHPORTAL_JWKS_FILE); re-read when it changes."""

    def __init__(self, path: str | Path, *, max_age: int):
        self.path = Path(path)
        self.max_age = max_age

    def fetch(self, etag: str | None) -> Fetched:
        stat = self.path.stat()
        version = f"{stat.st_mtime_ns}:{stat.st_size}:{stat.st_ino}"
        if version == etag:
            return Fetched(None, etag, self.max_age)
        return Fetched(keys_from_jwks(self.path.read_bytes()), version, self.max_age)


@dataclass
class KeySnapshot:
    keys: dict[str, VerificationKey]
    expires_at: float
    etag: str | None = None
    # Encoded headers already seen with a good signature, to the key they name: the verifier's fast path.
    headers: dict[str, VerificationKey] = field(default_factory=dict)


class JwksCache:
    """Keys for as long as `Cache-Control: max-age` says; when the source fails, the keys we have
    keep working.

    A kid not in our copy is looked up at once: a kid never seen before may be the key the portal has
    just started signing with (an emergency rotation, a revocation's successor), and hiding it
    behind a cooldown fails every token it signs. What keeps a flood of made-up kids from making us
    hammer the JWKS URL is, instead:
    - a kid looked up and still missing is not looked up again for `cooldown` seconds (a bounded
      negative cache), so the same unknown kid costs one fetch;
    - fetches for unknown kids start at most once per `min_interval` seconds, whatever the kids: a
      lookup that needs a fetch waits for the next allowed one (at most `min_interval`), and every
      lookup that arrived before a fetch started shares its answer. A refetch is conditional on the
      ETag, so the portal mostly answers 304.
    A known key past max-age is refreshed by one thread, at most once per `cooldown`, while the
    others go on with the copy we have.
    """

    MAX_REMEMBERED_HEADERS = 64
    MAX_MISSING_KIDS = 1024

    def __init__(
        self,
        source: JwksSource,
        *,
        clock: Callable[[], float] = time.time,
        cooldown: float = 30.0,
        min_interval: float = 1.0,
        default_max_age: int = 300,
        longest_max_age: int = 86400,
    ):
        self.source = source
        self.freshness = _http.Freshness(
            clock=clock, cooldown=cooldown, default_max_age=default_max_age, longest_max_age=longest_max_age
        )
        self.clock = clock
        self.min_interval = min_interval
        self.snapshot = KeySnapshot(keys={}, expires_at=float("-inf"))
        self.loaded = False
        self.fetches = 0
        self._last_start = float("-inf")  # by time.monotonic: spaces the fetches for unknown kids
        self._started = 0  # fetches started so far, one at a time: fetch n answers lookups begun before it
        self._completed = 0  # the number of the last fetch that finished
        self._fetching = False
        self._last_ok = False
        self._missing: dict[str, float] = {}  # kid -> until when (by `clock`) it is not looked up again
        self._changed = threading.Condition()

    def get(self, kid: str) -> VerificationKey | None:
        """The key for `kid`, refreshing first if our copy is stale or lacks it (see the class)."""
        snapshot = self.snapshot
        key = snapshot.keys.get(kid)
        if key is not None and self.clock() < snapshot.expires_at:
            return key
        if key is not None:
            # Stale but known: one thread refreshes, the others go on with what we have.
            with self._changed:
                if self._fetching or self.freshness.cooling_down():
                    return key
                self._fetch_locked()
            latest = self.snapshot
            return key if latest is snapshot else latest.keys.get(kid)  # a revoked kid is gone now
        if self.clock() < self._missing.get(kid, float("-inf")):
            return None  # looked up a moment ago and not there
        deadline = time.monotonic() + 60
        with self._changed:
            arrived = self._started
            while self._completed <= arrived:  # until a fetch that began after this lookup has answered
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                too_soon = self._last_start + self.min_interval - time.monotonic()
                if self._fetching:  # begun before this lookup, maybe before its kid was published
                    self._changed.wait(left)
                elif too_soon > 0:
                    self._changed.wait(min(left, too_soon))
                else:
                    self._fetch_locked()
            key = self.snapshot.keys.get(kid)
            if key is None and self._last_ok:
                if len(self._missing) >= self.MAX_MISSING_KIDS:
                    self._missing.clear()
                self._missing[kid] = self.clock() + self.freshness.cooldown
            return key

    def remember_header(self, encoded_header: str, key: VerificationKey) -> None:
        snapshot = self.snapshot
        if snapshot.keys.get(key.kid) is not key:
            return
        if len(snapshot.headers) >= self.MAX_REMEMBERED_HEADERS:
            snapshot.headers.clear()
        snapshot.headers[encoded_header] = key

    def refresh(self) -> None:
        """Fetch now unless one is running or started under `min_interval` ago (start-up warm-up)."""
        with self._changed:
            if not self._fetching and time.monotonic() >= self._last_start + self.min_interval:
                self._fetch_locked()

    def _fetch_locked(self) -> None:
        """One fetch, conditional on our ETag once we hold a copy. Called holding the condition's lock,
        which is released while the request is on the wire so that other lookups can queue for it."""
        self._fetching = True
        self._started += 1
        number = self._started
        self._last_start = time.monotonic()
        now = self.freshness.attempt()
        self.fetches += 1
        self._changed.release()
        try:
            self._fetch(now)
        finally:
            self._changed.acquire()
            self._fetching = False
            self._completed = number
            self._changed.notify_all()

    def _fetch(self, now: float) -> None:
        current = self.snapshot
        try:
            fetched = self.source.fetch(current.etag if self.loaded else None)
        except Exception as error:  # noqa: BLE001 (any failure: keep serving the keys we have)
            log.warning("JWKS refresh failed, keeping %d cached key(s): %s", len(current.keys), error)
            self._last_ok = False
            return
        self._last_ok = True
        expires_at = self.freshness.expires_at(now, fetched.max_age)
        if fetched.keys is None:
            self.snapshot = KeySnapshot(current.keys, expires_at, fetched.etag, current.headers)
        else:
            self.snapshot = KeySnapshot(fetched.keys, expires_at, fetched.etag)
            self.loaded = True
