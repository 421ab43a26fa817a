"""Getting access tokens with the client_credentials grant, and exchanging a token received for one to
the next service (RFC 8693), each cached until shortly before it expires."""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlencode

from authportal_client import _http
from authportal_client.assertions import ASSERTION_TYPE, AssertionSigner
from authportal_client.errors import (
    AuthorizationServerUnavailable,
    InvalidClient,
    InvalidScope,
    InvalidTarget,
    TokenRequestError,
)
from authportal_client.keys import discover

log = logging.getLogger("authportal_client")

_TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_ERRORS: dict[str, tuple[type[TokenRequestError], str]] = {
    "invalid_client": (InvalidClient, "the authorization server does not accept this client_id and secret"),
    "invalid_scope": (InvalidScope, "this client is not granted the scope it asked for"),
    "invalid_target": (InvalidTarget, "this client is not granted the resource (audience) it asked for"),
    "unauthorized_client": (TokenRequestError, "this client represents no service: it cannot act for anyone"),
}
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 (a URN, no secret)
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105 (a user token from a trusted issuer)
# Exchanged tokens are cached per subject token: bound how many, since every caller brings its own.
EXCHANGE_CACHE_MAX = 1024

CacheKey = tuple[tuple[str, ...], tuple[str, ...]]


@dataclass(frozen=True)
class _Cached:
    token: str
    refresh_at: float


def _cache_key(resource: str | Iterable[str] | None, scope: str | Iterable[str] | None) -> CacheKey:
    """Which cached token answers a request: its audiences and scopes, each deduplicated and sorted."""
    audiences = tuple(sorted(set(_as_tuple(resource, split=False))))
    return audiences, tuple(sorted(set(_as_tuple(scope, split=True))))


def _as_tuple(value: str | Iterable[str] | None, *, split: bool) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.split()) if split else (value,)
    return tuple(value)


class TokenClient:
    """`TokenClient(issuer, client_id, client_secret).get_token(resource=...) -> str`, or with
    `private_key=` (a PEM or a private JWK) instead of a secret: private_key_jwt, a fresh signed
    assertion per request (RFC 7523 §2.2).

    One request per (resources, scopes) until the token is within `refresh_margin` of its expiry,
    however many threads ask at once; transient failures are retried with jittered backoff.
    """

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str | None = None,
        *,
        private_key: str | bytes | Mapping[str, Any] | None = None,
        key_id: str | None = None,
        token_endpoint: str | None = None,
        refresh_margin: float = 60.0,
        retries: int = 3,
        backoff: float = 0.25,
        max_backoff: float = 5.0,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.issuer = issuer
        self.client_id = client_id
        if (client_secret is None) == (private_key is None):
            raise ValueError("give either client_secret or private_key")
        self._secret = client_secret or ""
        self._signer = AssertionSigner.load(private_key, kid=key_id) if private_key is not None else None
        self.token_endpoint = token_endpoint
        self.refresh_margin = refresh_margin
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.clock = clock
        self.sleep = sleep
        self.requests_made = 0
        self._cache: dict[CacheKey, _Cached] = {}
        self._exchanged: dict[tuple[str, str, str, tuple[str, ...]], _Cached] = {}
        self._exchange_locks = [threading.Lock() for _ in range(32)]
        self._locks: dict[CacheKey, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def __repr__(self) -> str:  # never the secret
        return f"TokenClient(issuer={self.issuer!r}, client_id={self.client_id!r})"

    def get_token(
        self, resource: str | Iterable[str] | None = None, scope: str | Iterable[str] | None = None
    ) -> str:
        """An access token for these audiences (RFC 8707 `resource`) and scopes, from cache if still good."""
        key = _cache_key(resource, scope)
        cached = self._cache.get(key)
        if cached is not None and self.clock() < cached.refresh_at:
            return cached.token
        with self._lock_for(key):
            cached = self._cache.get(key)  # another thread may have just fetched it
            if cached is not None and self.clock() < cached.refresh_at:
                return cached.token
            token, expires_in = self._request_with_retries(resources=key[0], scopes=key[1])
            margin = min(self.refresh_margin, expires_in / 2)
            self._cache[key] = _Cached(token, self.clock() + expires_in - margin)
            return token

    def exchange(
        self,
        subject_token: str,
        resource: str,
        scope: str | Iterable[str] | None = None,
        subject_token_type: str = ACCESS_TOKEN_TYPE,
    ) -> str:
        """A token for `resource` on behalf of whoever `subject_token` speaks for (RFC 8693).

        `subject_token` is the access token this service received (its `aud` is this service); the
        edge from this service to `resource` must be declared at the portal. The new token keeps the
        original caller as `sub`, adds this client to its `act` chain and never outlives the subject
        token, so it is cached per subject token, type and target until either expires. A user token
        from an issuer the portal trusts is sent with `subject_token_type=JWT_TOKEN_TYPE`, along an
        edge from the reserved upstream `@user`.
        """
        key = (
            subject_token,
            subject_token_type,
            resource,
            tuple(sorted(set(_as_tuple(scope, split=True)))),
        )
        cached = self._exchanged.get(key)
        if cached is not None and self.clock() < cached.refresh_at:
            return cached.token
        # One request per key however many threads ask; striped locks, as subject tokens are unbounded.
        with self._exchange_locks[hash(key) % len(self._exchange_locks)]:
            cached = self._exchanged.get(key)
            if cached is not None and self.clock() < cached.refresh_at:
                return cached.token
            body = [
                ("grant_type", TOKEN_EXCHANGE_GRANT),
                ("subject_token", subject_token),
                ("subject_token_type", subject_token_type),
                ("requested_token_type", ACCESS_TOKEN_TYPE),
                ("resource", resource),
            ]
            if key[3]:
                body.append(("scope", " ".join(key[3])))
            token, expires_in = self._send_with_retries(body)
            now = self.clock()
            if len(self._exchanged) >= EXCHANGE_CACHE_MAX:
                self._exchanged = {k: v for k, v in self._exchanged.items() if now < v.refresh_at}
                if len(self._exchanged) >= EXCHANGE_CACHE_MAX:
                    self._exchanged.clear()
            margin = min(self.refresh_margin, expires_in / 2)
            self._exchanged[key] = _Cached(token, now + expires_in - margin)
            return token

    def authorization(
        self, resource: str | Iterable[str] | None = None, scope: str | Iterable[str] | None = None
    ) -> str:
        """The `Authorization` header value: `Bearer <token>`."""
        return "Bearer " + self.get_token(resource=resource, scope=scope)

    def forget(
        self, resource: str | Iterable[str] | None = None, scope: str | Iterable[str] | None = None
    ) -> None:
        """Drop a cached token (say the service answered 401 after a key revocation)."""
        key = _cache_key(resource, scope)
        self._cache.pop(key, None)

    def _lock_for(self, key: CacheKey) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(key, threading.Lock())

    def _request_with_retries(
        self, *, resources: tuple[str, ...], scopes: tuple[str, ...]
    ) -> tuple[str, float]:
        body = [("grant_type", "client_credentials")] + [("resource", item) for item in resources]
        if scopes:
            body.append(("scope", " ".join(scopes)))
        return self._send_with_retries(body)

    def _send_with_retries(self, body: list[tuple[str, str]]) -> tuple[str, float]:
        last_problem, retry_after = "", None
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self._delay(attempt, retry_after))
            try:
                response = self._post(urlencode(body).encode())
            except (OSError, ValueError) as error:
                last_problem, retry_after = f"{type(error).__name__}: {error}", None
                log.warning("token request failed (attempt %d): %s", attempt + 1, last_problem)
                continue
            if response.status in _TRANSIENT_STATUSES:
                last_problem = f"HTTP {response.status}"
                retry_after = response.headers.get("Retry-After")
                log.warning("token endpoint answered HTTP %d (attempt %d)", response.status, attempt + 1)
                continue
            return self._read(response)
        raise AuthorizationServerUnavailable(
            f"no token from {self.issuer} after {self.retries + 1} attempts: {last_problem}", status=None
        )

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after), self.max_backoff)
        return min(self.backoff * 2 ** (attempt - 1), self.max_backoff) * random.uniform(0.5, 1.0)

    def _post(self, body: bytes) -> _http.Response:
        if self.token_endpoint is None:
            self.token_endpoint = discover(self.issuer, timeout=self.timeout)["token_endpoint"]
        self.requests_made += 1
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        if self._signer is not None:
            # A fresh assertion (a new jti) for every attempt: the portal refuses a replay.
            assertion = self._signer.sign(client_id=self.client_id, audience=self.issuer)
            body += (
                b"&"
                + urlencode({"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}).encode()
            )
        else:
            # RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
            credentials = f"{quote_plus(self.client_id)}:{quote_plus(self._secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
        return _http.request(self.token_endpoint, data=body, headers=headers, timeout=self.timeout)

    def _read(self, response: _http.Response) -> tuple[str, float]:
        try:
            document = json.loads(response.body)
        except ValueError:
            document = None
        if response.status != 200:
            raise self._error(response.status, document)
        if (
            not isinstance(document, dict)
            or not isinstance(document.get("access_token"), str)
            or str(document.get("token_type", "")).lower() != "bearer"
        ):
            raise TokenRequestError(
                "the token endpoint answered 200 without a Bearer access_token", status=200
            )
        expires_in = document.get("expires_in", 300)
        if not isinstance(expires_in, int | float) or isinstance(expires_in, bool) or expires_in <= 0:
            expires_in = 300
        return document["access_token"], float(expires_in)

    def _error(self, status: int, document: object) -> TokenRequestError:
        error = document.get("error", "") if isinstance(document, dict) else ""
        description = document.get("error_description", "") if isinstance(document, dict) else ""
        error, description = str(error)[:100], str(description)[:300]
        kind, meaning = _ERRORS.get(error, (TokenRequestError, "the token request was refused"))
        if error == "invalid_client" and self._signer is not None:
            meaning = meaning.replace("client_id and secret", "client_id and private key")
        message = f"{meaning} ({error or f'HTTP {status}'}{': ' + description if description else ''})"
        return kind(message, error=error, description=description, status=status)
