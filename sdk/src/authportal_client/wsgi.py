"""WSGI middleware (Flask, Django's WSGI handler, any WSGI app): only requests with a good token pass.

    verifier = Verifier(ISSUER, AUDIENCE)
    app.wsgi_app = BearerTokenMiddleware(app.wsgi_app, verifier, required_scopes=["doctors:read"])

The verified `Claims` are in `environ["authportal.claims"]`; answer a missing scope of a single
route with `insufficient_scope_response(start_response, ["doctors:write"])`. `via=[CLIENT_ID, …]`
admits only tokens exchanged along exactly that chain of actors (nearest first; `via=[]`: direct calls);
for a single route, `requirement_response(start_response, environ, scope=…, via=[…])`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from authportal_client.bearer import AppGate, Denial, Requirement, insufficient_scope

ENVIRON_KEY = "authportal.claims"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class BearerTokenMiddleware(AppGate[WsgiApp]):
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") in self.exempt_paths:
            return self.app(environ, start_response)
        outcome = self.check(environ.get("HTTP_AUTHORIZATION"))
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


def requirement_response(
    start_response: Callable[..., Any],
    environ: dict[str, Any],
    *,
    scope: str | Iterable[str] = (),
    via: Iterable[str] | None = None,
    realm: str = "api",
) -> list[bytes] | None:
    """The 403 to send when this route's requirement is not met by the verified token, else None."""
    outcome = Requirement.of(scope=scope, via=via).check(environ[ENVIRON_KEY], realm=realm)
    return deny(start_response, outcome) if isinstance(outcome, Denial) else None
