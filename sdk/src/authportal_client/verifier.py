"""Verifying RFC 9068 access tokens from AuthPortal, locally, with keys from its JWKS only.

Signatures are checked by PyJWT's algorithm objects (on `cryptography`). The compact form and the
claims are read here, more strictly than `jwt.decode` does: base64url without stray characters,
JSON objects without duplicate members, and every claim type-checked, so that one token has one
meaning. Whatever the input, `verify` raises `InvalidToken` or returns `Claims`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from jwt.utils import base64url_decode

from authportal_client.claims import Claims
from authportal_client.compact import COMPACT_JWS, access_token_header, audiences_of, is_number, json_object
from authportal_client.errors import InvalidToken, KeysUnavailable
from authportal_client.keys import (
    MAX_KID_LENGTH,
    SUPPORTED_ALGORITHMS,
    FileJwksSource,
    HttpJwksSource,
    JwksCache,
    JwksSource,
    VerificationKey,
    discover,
)
from authportal_client.revocations import RevocationList, revocation_list_freshness

MAX_ACT_NESTING = 10


def _check_delegation(raw: dict[str, Any]) -> None:
    """`act` (RFC 8693 §4.1) is a chain of objects each naming its actor in `sub`; `txn` is text."""
    act, depth = raw.get("act"), 0
    while act is not None:
        depth += 1
        if (
            type(act) is not dict
            or type(act.get("sub")) is not str
            or not act["sub"]
            or depth > MAX_ACT_NESTING
        ):
            raise InvalidToken("malformed act")
        act = act.get("act")
    if "txn" in raw and (type(raw["txn"]) is not str or not raw["txn"]):
        raise InvalidToken("malformed txn")


class Verifier:
    """`Verifier(issuer, audience).verify(token) -> Claims`, or `InvalidToken`.

    Keys come from `jwks_source` (any `JwksSource`: the portal reads its own JWKS from its database),
    else `jwks_file`, else `jwks_url`, else the `jwks_uri` of the issuer's metadata. Revoked
    tokens are refused as the portal's signed revocation list says: its `revocation_list_uri` from the
    metadata when keys are discovered there, else `revocation_list_url` when given (off without it, and
    with `check_revocation=False`). The list is cached on the keys' rules (see `revocations`).
    """

    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        jwks_file: str | Path | None = None,
        *,
        algorithms: Iterable[str] = SUPPORTED_ALGORITHMS,
        leeway: int = 30,
        max_lifetime: int = 3600,
        max_token_bytes: int = 8192,
        refetch_cooldown: float = 30.0,
        refetch_min_interval: float = 1.0,
        file_max_age: int = 60,
        timeout: float = 5.0,
        jwks_source: JwksSource | None = None,
        clock: Callable[[], float] = time.time,
        revocation_list_url: str | None = None,
        check_revocation: bool = True,
    ):
        unknown = set(algorithms) - set(SUPPORTED_ALGORITHMS)
        if unknown:
            raise ValueError(
                f"unsupported algorithms {sorted(unknown)}; choose from {sorted(SUPPORTED_ALGORITHMS)}"
            )
        self.issuer = issuer
        self.audience = audience
        self.algorithms = frozenset(algorithms)
        self.leeway = leeway
        self.max_lifetime = max_lifetime
        self.max_token_bytes = max_token_bytes
        self.clock = clock
        source = (
            jwks_source
            if jwks_source is not None
            else FileJwksSource(jwks_file, max_age=file_max_age)
            if jwks_file is not None
            else HttpJwksSource(issuer=issuer, jwks_url=jwks_url, timeout=timeout)
        )
        self.keys = JwksCache(
            source, clock=clock, cooldown=refetch_cooldown, min_interval=refetch_min_interval
        )
        self._revocation_list_url = revocation_list_url
        self._discover_revocations = (
            check_revocation
            and revocation_list_url is None
            and jwks_source is None
            and jwks_url is None
            and jwks_file is None
        )
        self._timeout = timeout
        self._refetch_cooldown = refetch_cooldown
        self.revocations: RevocationList | None = None
        if check_revocation and revocation_list_url is not None:
            self.revocations = self._revocation_list(revocation_list_url)

    def _revocation_list(self, url: str) -> RevocationList:
        return RevocationList(
            issuer=self.issuer,
            url=url,
            keys=self.keys,
            algorithms=self.algorithms,
            freshness=revocation_list_freshness(clock=self.clock, cooldown=self._refetch_cooldown),
            timeout=self._timeout,
        )

    def _revocation_check(self, raw: dict[str, Any]) -> None:
        if self.revocations is None and self._discover_revocations:
            # Keys discovered from the metadata: so is the revocation list, once, when it names one.
            source = self.keys.source
            metadata = source.metadata if isinstance(source, HttpJwksSource) else None
            try:
                metadata = metadata or discover(self.issuer, timeout=self._timeout)
            except (OSError, ValueError) as error:
                raise KeysUnavailable(f"the issuer's metadata could not be read: {error}") from None
            url = metadata.get("revocation_list_uri")
            self._discover_revocations = False
            if isinstance(url, str) and url.startswith(("https://", "http://")):
                self.revocations = self._revocation_list(url)
        if self.revocations is not None:
            self.revocations.check(raw)

    def can_verify_without_io(self, token: str) -> bool:
        """Whether `verify(token)` surely needs no JWKS fetch: a header seen before, keys still fresh."""
        snapshot = self.keys.snapshot
        return self.clock() < snapshot.expires_at and token.partition(".")[0] in snapshot.headers

    def verify(self, token: str | bytes) -> Claims:
        try:
            return self._verify(token)
        except InvalidToken:
            raise
        except Exception:  # noqa: BLE001 (the contract: nothing but InvalidToken escapes, whatever the bytes)
            raise InvalidToken("malformed token") from None

    def _verify(self, token: str | bytes) -> Claims:
        if type(token) is not str:
            if not isinstance(token, bytes | bytearray):
                raise InvalidToken("the token is not text")
            token = bytes(token).decode("ascii")
        if len(token) > self.max_token_bytes:
            raise InvalidToken("the token is too large")
        if COMPACT_JWS.fullmatch(token) is None:
            raise InvalidToken("not a JWS in compact form")
        encoded_header, encoded_payload, encoded_signature = token.split(".")
        snapshot = self.keys.snapshot
        now = self.clock()
        key = snapshot.headers.get(encoded_header) if now < snapshot.expires_at else None
        remember = key is None
        if key is None:
            key = self._key_for_header(encoded_header)
        signing_input = token[: len(encoded_header) + 1 + len(encoded_payload)].encode("ascii")
        if not key.verify_signature(signing_input, base64url_decode(encoded_signature)):
            raise InvalidToken("bad signature")
        if remember:
            self.keys.remember_header(encoded_header, key)
        try:
            raw = json_object(encoded_payload)
        except (ValueError, RecursionError):
            raise InvalidToken("malformed claims") from None
        return self._claims(raw, now)

    def _key_for_header(self, encoded_header: str) -> VerificationKey:
        try:
            algorithm, kid = access_token_header(
                encoded_header, algorithms=self.algorithms, max_kid_length=MAX_KID_LENGTH
            )
        except ValueError as why:
            raise InvalidToken(str(why)) from None
        key = self.keys.get(kid)
        if key is None:
            if not self.keys.loaded:
                raise KeysUnavailable("no signing keys could be loaded")
            raise InvalidToken("unknown key")
        if key.algorithm != algorithm:
            raise InvalidToken("algorithm does not match the key")
        return key

    def _claims(self, raw: dict[str, Any], now: float) -> Claims:
        if raw.get("iss") != self.issuer or type(raw["iss"]) is not str:
            raise InvalidToken("wrong issuer")
        try:
            audiences = audiences_of(raw)
        except ValueError as why:
            raise InvalidToken(str(why)) from None
        if self.audience not in audiences:
            raise InvalidToken("wrong audience")
        self._check_times(raw, now)
        client_id, scope = raw.get("client_id"), raw.get("scope", "")
        if type(client_id) is not str or not client_id or type(raw.get("sub")) is not str:
            raise InvalidToken("missing client_id or sub")
        if type(raw.get("jti")) is not str:
            raise InvalidToken("missing jti")
        if type(scope) is not str:
            raise InvalidToken("malformed scope")
        _check_delegation(raw)
        self._revocation_check(raw)
        return Claims(raw, client_id=client_id, scopes=frozenset(scope.split()), audience=audiences)

    def _check_times(self, raw: dict[str, Any], now: float) -> None:
        expires, issued, not_before = raw.get("exp"), raw.get("iat"), raw.get("nbf")
        if not is_number(expires) or not is_number(issued):
            raise InvalidToken("missing or malformed exp or iat")
        if expires <= now - self.leeway:
            raise InvalidToken("expired")
        if issued > now + self.leeway:
            raise InvalidToken("issued in the future")
        if not_before is not None and (not is_number(not_before) or not_before > now + self.leeway):
            raise InvalidToken("not yet valid")
        if expires - issued > self.max_lifetime or expires > now + self.max_lifetime + self.leeway:
            raise InvalidToken("lifetime longer than allowed")
