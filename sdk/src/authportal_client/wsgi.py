"""WSGI middleware (Flask, Django's WSGI handler, any WSGI app): only requests with a good token pass.

    verifier = Verifier(ISSUER, AUDIENCE)
    app.wsgi_app = BearerTokenMiddleware(app.wsgi_app, verifier, required_scopes=["doctors:read"])

The verified `Claims` are in `environ["authportal.claims"]`; answer a missing scope of a single
route with `insufficient_scope_response(start_response, ["doctors:write"])`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from authportal_client.bearer import Denial, authenticate, insufficient_scope
from authportal_client.verifier import Verifier

ENVIRON_KEY = "authportal.claims"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class BearerTokenMiddleware:
    def __init__(
        self,
        app: WsgiApp,
        verifier: Verifier,
        *,
        required_scopes: Iterable[str] = (),
        exempt_paths: Iterable[str] = (),
        realm: str = "api",
    ):
        self.app = app
        self.verifier = verifier
        self.required_scopes = tuple(required_scopes)
        self.exempt_paths = frozenset(exempt_paths)
        self.realm = realm

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") in self.exempt_paths:
            return self.app(environ, start_response)
        outcome = authenticate(
            self.verifier,
            environ.get("HTTP_AUTHORIZATION"),
            required_scopes=self.required_scopes,
            realm=self.realm,
        )
        if isinstance(outcome, Denial):
            return deny(start_response, outcome)
        environ[ENVIRON_KEY] = outcome
        return self.app(environ, start_response)


def deny(start_response: Callable[..., Any], denial: Denial) -> list[bytes]:
    body = denial.body
    start_response(
        f"{denial.status} {denial.reason}",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("WWW-Authenticate", denial.www_authenticate),
            ("Cache-Control", "no-store"),
        ],
    )
    return [body]


def insufficient_scope_response(
    start_response: Callable[..., Any], scopes: Iterable[str], realm: str = "api"
) -> list[bytes]:
    return deny(start_response, insufficient_scope(realm, scopes))
