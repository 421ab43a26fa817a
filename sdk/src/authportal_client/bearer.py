"""RFC 6750 for every integration: reading `Authorization: Bearer`, and the 401/403 answers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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


def not_via(realm: str, via: tuple[str, ...]) -> Denial:
    # Not a scope the caller could ask for, so no insufficient_scope: the chain of actors is wrong.
    expected = " then ".join(via) if via else "no one (a direct call)"
    description = f"this call must come via {expected}"
    return Denial(403, f"Bearer realm={_quoted(realm)}", "access_denied", description)


def authenticate(
    verifier: Verifier,
    authorization: str | None,
    *,
    required_scopes: Iterable[str] = (),
    via: Iterable[str] | None = None,
    realm: str = "api",
) -> Claims | Denial:
    """Claims for a request with a good token that meets the requirements, else the Denial to send."""
    token = bearer_token(authorization)
    if token is None:
        return unauthenticated(realm)
    try:
        claims = verifier.verify(token)
    except InvalidToken as error:
        return invalid_token(realm, str(error))
    return Requirement.of(scope=required_scopes, via=via).check(claims, realm=realm)


def check_scopes(claims: Claims, required_scopes: Iterable[str], *, realm: str = "api") -> Claims | Denial:
    required = tuple(required_scopes)
    if required and not claims.has_scopes(*required):
        return insufficient_scope(realm, required)
    return claims


@dataclass(frozen=True)
class Requirement:
    """What a view demands of a verified token: every one of `scopes`, and, when `via` is given, exactly
    that chain of actors, nearest first (`Claims.actor_chain`): `via=[]` admits direct calls only,
    `via=[ORDERS_CLIENT_ID]` only calls that ms_orders makes on behalf of its own caller."""

    scopes: tuple[str, ...] = ()
    via: tuple[str, ...] | None = None

    @classmethod
    def of(cls, *, scope: str | Iterable[str] = (), via: Iterable[str] | None = None) -> Requirement:
        scopes = tuple(scope.split()) if isinstance(scope, str) else tuple(scope)
        if isinstance(via, str):
            raise TypeError("via is a list of client ids, nearest actor first")
        return cls(scopes=scopes, via=None if via is None else tuple(via))

    def check(self, claims: Claims, *, realm: str = "api") -> Claims | Denial:
        outcome = check_scopes(claims, self.scopes, realm=realm)
        if isinstance(outcome, Denial):
            return outcome
        if self.via is not None and claims.actor_chain != self.via:
            return not_via(realm, self.via)
        return claims


class BearerGate:
    """What every integration's middleware holds: the verifier, the scopes it demands, the paths it
    leaves alone, and the realm of its challenges."""

    def __init__(
        self,
        verifier: Verifier,
        *,
        required_scopes: Iterable[str] = (),
        via: Iterable[str] | None = None,
        exempt_paths: Iterable[str] = (),
        realm: str = "api",
    ):
        self.verifier = verifier
        self.required_scopes = tuple(required_scopes)
        self.via = None if via is None else tuple(via)
        self.exempt_paths = frozenset(exempt_paths)
        self.realm = realm

    def check(self, authorization: str | None) -> Claims | Denial:
        return authenticate(
            self.verifier, authorization, required_scopes=self.required_scopes, via=self.via, realm=self.realm
        )


App = TypeVar("App")


class AppGate(BearerGate, Generic[App]):
    """A BearerGate in front of an application: the ASGI and the WSGI middleware."""

    def __init__(self, app: App, verifier: Verifier, **options: Any):
        super().__init__(verifier, **options)
        self.app = app
