"""Who calls the API: a client with one of our own access tokens, or a portal user's browser session.

Tokens are checked by the SDK's `Verifier` (the same code our services run), for the audience
`{issuer}/api`, with our JWKS read from our own database rather than over HTTP: a worker fetching
its own JWKS would spend one of its threads waiting on another, and could wait on itself. The copy
is re-read at most every PUBLISHED_KEYS_RECHECK_SECONDS, so a revoked key stops counting that fast.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from authportal_client.claims import Claims
from authportal_client.drf import BearerTokenAuthentication
from authportal_client.keys import Fetched, JwksSource, keys_from_jwks
from authportal_client.verifier import Verifier
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from api.services import ADMIN_READ, ADMIN_WRITE, AUDIT_READ, api_audience
from audit.actor import Actor
from clients.models import Client
from core.conf import app_settings
from keys.selectors import jwks_published
from portal.roles import ADMIN, AUDITOR, role_of
from revocation.selectors import token_revoked

PUBLISHED_KEYS_RECHECK_SECONDS = 5

# What a caller may do. A portal role gives what it gives in the portal (portal/roles.py); a token
# gives what its scopes say.
READ, WRITE, AUDIT = "read", "write", "audit"
ROLE_RIGHTS = {ADMIN: frozenset({READ, WRITE, AUDIT}), AUDITOR: frozenset({READ, AUDIT})}
SCOPE_RIGHTS = {ADMIN_READ: READ, ADMIN_WRITE: WRITE, AUDIT_READ: AUDIT}


class PublishedJwksSource(JwksSource):
    """Our published JWKS, read from the database (keys.selectors.jwks_published)."""

    def fetch(self, etag: str | None) -> Fetched:
        published = jwks_published()
        if published is None:
            return Fetched({}, None, PUBLISHED_KEYS_RECHECK_SECONDS)
        body, current = published
        if current == etag:
            return Fetched(None, etag, PUBLISHED_KEYS_RECHECK_SECONDS)
        return Fetched(keys_from_jwks(body), current, PUBLISHED_KEYS_RECHECK_SECONDS)


_verifiers: dict[tuple[str, str], Verifier] = {}
_verifiers_lock = threading.Lock()


def api_verifier() -> Verifier:
    """One per process (and per issuer, so that a test changing the issuer gets its own)."""
    key = (app_settings.ISSUER, api_audience())
    with _verifiers_lock:
        verifier = _verifiers.get(key)
        if verifier is None:
            verifier = _verifiers[key] = Verifier(
                app_settings.ISSUER,
                api_audience(),
                jwks_source=PublishedJwksSource(),
                max_lifetime=app_settings.TOKEN_LIFETIME_MAX,
            )
        return verifier


def api_verifier_forget() -> None:
    with _verifiers_lock:
        _verifiers.clear()


@dataclass(frozen=True)
class ApiClient:
    """A client calling with a token, as DRF's `request.user`."""

    client_id: str
    scopes: frozenset[str]
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False

    @property
    def pk(self) -> str:  # DRF's throttles key on it
        return self.client_id

    @property
    def username(self) -> str:
        return self.client_id

    def __str__(self) -> str:
        return self.client_id


class ApiTokenAuthentication(BearerTokenAuthentication):
    """`Authorization: Bearer` with one of our access tokens for `{issuer}/api`, of an enabled client."""

    refusal = "The bearer token was refused: {}."

    def verifier(self) -> Verifier:
        return api_verifier()

    def principal(self, claims: Claims) -> ApiClient:
        # A token outlives a change to its client by at most its lifetime; an admin API should not.
        if not Client.objects.filter(client_id=claims.client_id, enabled=True).exists():
            raise AuthenticationFailed("The token's client is disabled or no longer exists.")
        # Revocations count at once here, as at introspection (the database is at hand, the list's
        # max-age is for verifiers that are not us).
        if token_revoked(
            jti=str(claims.raw["jti"]),
            client_id=claims.client_id,
            issued_at=float(claims.raw["iat"]),
            now=timezone.now(),
        ):
            raise AuthenticationFailed("The token has been revoked.")
        return ApiClient(client_id=claims.client_id, scopes=claims.scopes)

    def authenticate_header(self, request: Request) -> str:
        return f'Bearer realm="{api_audience()}"'


class PortalSessionAuthentication(SessionAuthentication):
    """A portal user's browser session, with Django's CSRF check on every unsafe method."""


def rights_of(request: Request) -> frozenset[str]:
    user = request.user
    if isinstance(user, ApiClient):
        return frozenset(SCOPE_RIGHTS[scope] for scope in user.scopes if scope in SCOPE_RIGHTS)
    return ROLE_RIGHTS.get(role_of(user) or "", frozenset())


def actor_of(request: Request | HttpRequest) -> Actor:
    """The caller as the audit log names it: the client id or the username, with the request's id."""
    user = request.user
    name = user.client_id if isinstance(user, ApiClient) else user.get_username()
    return Actor(
        name=name,
        request_id=getattr(request, "request_id", ""),
        remote_addr=request.META.get("REMOTE_ADDR"),
    )
