"""The portal's signed revocation list, fetched and cached on the same rules as its keys.

The list (`revocation_list_uri` in the metadata) is a JWS of `typ` `revocation-list+jwt` signed with
one of the keys of the JWKS, holding `revoked_jtis` ({jti: exp}) and `clients_not_before`
({client_id: time}: every token of that client issued before it is revoked). A verifier keeps it for
`Cache-Control: max-age`, revalidates with `If-None-Match`, refetches a stale copy at most once per
`cooldown`, and when the portal cannot be reached goes on with the list it has. That max-age is how
long a revocation takes to reach it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jwt.utils import base64url_decode

from authportal_client import _http
from authportal_client.errors import InvalidToken, KeysUnavailable
from authportal_client.keys import JwksCache

log = logging.getLogger("authportal_client")

REVOCATION_LIST_TYP = "revocation-list+jwt"


@dataclass
class RevocationSnapshot:
    jtis: dict[str, float] = field(default_factory=dict)
    clients_not_before: dict[str, float] = field(default_factory=dict)
    issued_at: float = float("-inf")
    expires_at: float = float("-inf")
    etag: str | None = None


def revocation_list_freshness(
    *, clock: Callable[[], float] = time.time, cooldown: float = 30.0
) -> _http.Freshness:
    """The list is fresh for the max-age the portal sends (AUTHPORTAL_REVOCATION_LIST_MAX_AGE), 60 seconds
    when it sends none, an hour at most; a stale one is refetched at most once per `cooldown`."""
    return _http.Freshness(clock=clock, cooldown=cooldown, default_max_age=60, longest_max_age=3600)


class RevocationList:
    """`check(claims)` raises InvalidToken when the token is revoked by the latest list we hold."""

    def __init__(
        self,
        *,
        issuer: str,
        url: str,
        keys: JwksCache,
        algorithms: frozenset[str],
        freshness: _http.Freshness,
        timeout: float = 5.0,
    ):
        self.issuer = issuer
        self.url = url
        self.keys = keys
        self.algorithms = algorithms
        self.freshness = freshness
        self.clock = freshness.clock
        self.timeout = timeout
        self.snapshot = RevocationSnapshot()
        self.loaded = False
        self.fetches = 0
        self._lock = threading.Lock()

    def check(self, raw: dict[str, Any]) -> None:
        snapshot = self._fresh()
        jti, client_id, issued = raw.get("jti"), raw.get("client_id"), raw.get("iat")
        if jti in snapshot.jtis:
            raise InvalidToken("revoked")
        not_before = snapshot.clients_not_before.get(client_id) if isinstance(client_id, str) else None
        if not_before is not None and isinstance(issued, int | float) and issued < not_before:
            raise InvalidToken("revoked")

    def _fresh(self) -> RevocationSnapshot:
        snapshot = self.snapshot
        if self.clock() < snapshot.expires_at:
            return snapshot
        # Stale: one thread refetches, at most once per cooldown; the others go on with what we have.
        if self._lock.acquire(blocking=not self.loaded):
            try:
                if not self.freshness.cooling_down() or not self.loaded:
                    self._fetch()
            finally:
                self._lock.release()
        if not self.loaded:
            raise KeysUnavailable("the revocation list could not be loaded")
        return self.snapshot

    def _fetch(self) -> None:
        now = self.freshness.attempt()
        self.fetches += 1
        current = self.snapshot
        headers = {"Accept": "application/jwt"}
        if self.loaded and current.etag:
            headers["If-None-Match"] = current.etag
        try:
            response = _http.request(self.url, headers=headers, timeout=self.timeout)
            expires_at = self.freshness.expires_at(now, _http.max_age(response.headers))
            if response.status == 304 and self.loaded:
                self.snapshot = RevocationSnapshot(
                    current.jtis, current.clients_not_before, current.issued_at, expires_at, current.etag
                )
                return
            if response.status != 200:
                raise OSError(f"the revocation list answered HTTP {response.status}")
            claims = self._verified(response.body.decode("ascii"))
        except Exception as error:  # noqa: BLE001 (any failure: keep the list we have)
            log.warning("revocation list refresh failed, keeping the list we have: %s", error)
            return
        issued = float(claims["iat"])
        if self.loaded and issued < current.issued_at:
            return  # an older list than ours (a lagging replica): never go back
        self.snapshot = RevocationSnapshot(
            jtis={str(k): float(v) for k, v in claims["revoked_jtis"].items()},
            clients_not_before={str(k): float(v) for k, v in claims["clients_not_before"].items()},
            issued_at=issued,
            expires_at=expires_at,
            etag=response.headers.get("ETag"),
        )
        self.loaded = True

    def _verified(self, document: str) -> dict[str, Any]:
        encoded_header, encoded_payload, encoded_signature = document.strip().split(".")
        header = json.loads(base64url_decode(encoded_header))
        if header.get("typ") != REVOCATION_LIST_TYP or "crit" in header:
            raise ValueError("not a revocation list")
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in self.algorithms or not isinstance(kid, str):
            raise ValueError("revocation list: algorithm not allowed or no kid")
        key = self.keys.get(kid)
        if key is None or key.algorithm != algorithm:
            raise ValueError("revocation list: signed by an unknown key")
        signing_input = f"{encoded_header}.{encoded_payload}".encode("ascii")
        if not key.verify_signature(signing_input, base64url_decode(encoded_signature)):
            raise ValueError("revocation list: bad signature")
        claims = json.loads(base64url_decode(encoded_payload))
        if not isinstance(claims, dict) or claims.get("iss") != self.issuer:
            raise ValueError("revocation list: wrong issuer")
        if not isinstance(claims.get("revoked_jtis"), dict) or not isinstance(
            claims.get("clients_not_before"), dict
        ):
            raise ValueError("revocation list: malformed")
        if not isinstance(claims.get("iat"), int | float):
            raise ValueError("revocation list: no iat")
        return claims
