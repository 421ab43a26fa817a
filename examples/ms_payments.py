"""ms_payments: charges money, and only for a caller who asked for it, through ms_orders.

Every token is verified locally by the SDK's WSGI middleware (ours, addressed to
https://payments.internal); the one route demands `payments:charge` and exactly one actor,
ms_orders' client (`requirement_response(…, via=[ORDERS_CLIENT_ID])`), or ms_orders then
ms_gateway's client (MS_PAYMENTS_GATEWAY_CLIENT_ID, a user's order): a token that ms_orders
obtained by exchanging its caller's, so `sub` still names that caller. Standard library only,
besides authportal_client.

    MS_PAYMENTS_ISSUER=http://127.0.0.1:8000 MS_PAYMENTS_ORDERS_CLIENT_ID=<ms_orders' client_id> \\
        MS_PAYMENTS_CALLERS='{"<client_id>": "ms_admin", …}' python examples/ms_payments.py
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from typing import Any

from authportal_client import Claims, Verifier
from authportal_client.wsgi import ENVIRON_KEY, BearerTokenMiddleware, requirement_response
from claims_shown import claims_lines, named
from serving import ServiceSettings, WsgiApp, only_route, respond, serve, speaker

say = speaker("ms_payments")


def make_app(orders_client_id: str, names: dict[str, str], gateway_client_id: str = "") -> WsgiApp:
    """The service itself, behind the middleware: `environ[ENVIRON_KEY]` holds verified Claims."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if (answer := only_route(environ, start_response, "POST", "/charges")) is not None:
            return answer
        # Exactly ms_orders, or ms_orders acting for ms_gateway (a user's order): no other chain.
        via = [orders_client_id]
        if gateway_client_id and len(environ[ENVIRON_KEY].actor_chain) == 2:
            via.append(gateway_client_id)
        denied = requirement_response(
            start_response, environ, scope="payments:charge", via=via, realm="ms_payments"
        )
        if denied is not None:
            return denied
        claims: Claims = environ[ENVIRON_KEY]
        say("POST /charges: accepted, the token says")
        for line in claims_lines(claims, names):
            say(line)
        charge = {
            "charge": "ch_" + secrets.token_hex(4),
            "for": claims.subject,
            "via": list(claims.actor_chain),
            "txn": claims.txn,
            "scope": " ".join(sorted(claims.scopes)),
        }
        return respond(start_response, "201 Created", charge)

    return app


def telling_refusals(app: WsgiApp, names: dict[str, str]) -> WsgiApp:
    """Print every refusal, the middleware's included, as the caller will read it."""

    def logged(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if status[0] in "45":
                challenge = dict(headers).get("WWW-Authenticate", "")
                claims = environ.get(ENVIRON_KEY)
                caller = f" by {named(claims.client_id, names)}" if claims else ""
                say(
                    f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO')}{caller}: refused, {status}  {challenge}"
                )
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return logged


def main() -> None:
    settings = ServiceSettings.from_environment(
        "MS_PAYMENTS", audience="https://payments.internal", port=8003
    )
    app = BearerTokenMiddleware(
        make_app(settings.get("ORDERS_CLIENT_ID"), settings.callers, settings.get("GATEWAY_CLIENT_ID", "")),
        Verifier(settings.issuer, settings.audience),
        exempt_paths=["/health"],
        realm="ms_payments",
    )
    serve(telling_refusals(app, settings.callers), port=settings.port, say=say, serving=settings.serving)


if __name__ == "__main__":
    main()
