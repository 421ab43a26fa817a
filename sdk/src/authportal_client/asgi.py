"""ASGI middleware (FastAPI, Starlette, any ASGI app): only requests with a good token get through.

    app.add_middleware(BearerTokenMiddleware, verifier=Verifier(ISSUER, AUDIENCE))
    app.add_middleware(BearerTokenMiddleware, verifier=..., required_scopes=["payments:charge"],
                       via=[ORDERS_CLIENT_ID])   # only ms_orders acting for its caller

Per route: `requires(scope=…, via=[…])` decorates an ASGI endpoint behind the middleware.

The verified `Claims` are in `scope["authportal.claims"]` and, for Starlette, `request.state.claims`.
Verification runs on the event loop when the keys are at hand (microseconds of CPU); a call that
may have to fetch the JWKS goes to a worker thread so the loop never waits on the network.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from authportal_client.bearer import AppGate, Denial, Requirement, bearer_token, unauthenticated

SCOPE_KEY = "authportal.claims"
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BearerTokenMiddleware(AppGate[AsgiApp]):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path") in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        authorization = _header(scope, b"authorization")
        token = bearer_token(authorization)
        if token is None or self.verifier.can_verify_without_io(token):
            outcome = self.check(authorization)
        else:
            outcome = await asyncio.to_thread(self.check, authorization)
        if isinstance(outcome, Denial):
            await _deny(scope, send, outcome)
            return
        scope[SCOPE_KEY] = outcome
        scope.setdefault("state", {})["claims"] = outcome
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _deny(scope: Scope, send: Send, denial: Denial) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    body = denial.body
    await send(
        {
            "type": "http.response.start",
            "status": denial.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", denial.www_authenticate.encode("latin-1")),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def requires(
    *, scope: str | Iterable[str] = (), via: Iterable[str] | None = None, realm: str = "api"
) -> Callable[[AsgiApp], AsgiApp]:
    """Wrap one ASGI endpoint behind BearerTokenMiddleware: 403 unless its token meets the requirement."""
    requirement = Requirement.of(scope=scope, via=via)

    def decorator(app: AsgiApp) -> AsgiApp:
        async def wrapped(scope_: Scope, receive: Receive, send: Send) -> None:
            claims = scope_.get(SCOPE_KEY)
            outcome = requirement.check(claims, realm=realm) if claims is not None else None
            if outcome is None or isinstance(outcome, Denial):
                await _deny(scope_, send, outcome or unauthenticated(realm))
                return
            await app(scope_, receive, send)

        return wrapped

    return decorator
