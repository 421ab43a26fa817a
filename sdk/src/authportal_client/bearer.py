"""RFC 6750 for every integration: reading `Authorization: Bearer`, and the 401/403 answers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from authportal_client.claims import Claims
from authportal_client.errors import InvalidToken
from authportal_client.verifier import Verifier


@dataclass(frozen=True)
class Denial:
    """A refusal as RFC 6750 §3 spells it: the status, `WWW-Authenticate`, and a JSON body."""

    status: int
    www_authenticate: str
    error: str = ""
    description: str = ""

    @property
    def body(self) -> bytes:
        document = {"error": self.error or "unauthorized"}
        if self.description:
            document["error_description"] = self.description
        return json.dumps(document).encode()

    @property
    def reason(self) -> str:
        return "Unauthorized" if self.status == 401 else "Forbidden"


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None for no or another scheme."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "").replace('"', "") + '"'


def unauthenticated(realm: str) -> Denial:
    # §3.1: a request with no credentials gets a challenge without an error code.
    return Denial(401, f"Bearer realm={_quoted(realm)}", "unauthorized", "a bearer access token is required")


def invalid_token(realm: str, reason: str) -> Denial:
    challenge = f'Bearer realm={_quoted(realm)}, error="invalid_token", error_description={_quoted(reason)}'
    return Denial(401, challenge, "invalid_token", reason)


def insufficient_scope(realm: str, scopes: Iterable[str]) -> Denial:
    needed = " ".join(scopes)
    challenge = f'Bearer realm={_quoted(realm)}, error="insufficient_scope", scope={_quoted(needed)}'
    return Denial(403, challenge, "insufficient_scope", f"this call needs the scope {needed}")


def authenticate(
    verifier: Verifier, authorization: str | None, *, required_scopes: Iterable[str] = (), realm: str = "api"
) -> Claims | Denial:
    """Claims for a request with a good token and every required scope, else the Denial to send."""
    token = bearer_token(authorization)
    if token is None:
        return unauthenticated(realm)
    try:
        claims = verifier.verify(token)
    except InvalidToken as error:
        return invalid_token(realm, str(error))
    return check_scopes(claims, required_scopes, realm=realm)


def check_scopes(claims: Claims, required_scopes: Iterable[str], *, realm: str = "api") -> Claims | Denial:
    required = tuple(required_scopes)
    if required and not claims.has_scopes(*required):
        return insufficient_scope(realm, required)
    return claims


class BearerGate:
    """What every integration's middleware holds: the verifier, the scopes it demands, the paths it
    leaves alone, and the realm of its challenges."""

    def __init__(
        self,
        verifier: Verifier,
        *,
        required_scopes: Iterable[str] = (),
        exempt_paths: Iterable[str] = (),
        realm: str = "api",
    ):
        self.verifier = verifier
        self.required_scopes = tuple(required_scopes)
        self.exempt_paths = frozenset(exempt_paths)
        self.realm = realm

    def check(self, authorization: str | None) -> Claims | Denial:
        return authenticate(
            self.verifier, authorization, required_scopes=self.required_scopes, realm=self.realm
        )
