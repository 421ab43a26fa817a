"""ms_orders: takes an order, and must charge it through ms_payments on behalf of whoever ordered.

Tokens sent to it are verified by the SDK's WSGI middleware (audience https://orders.internal,
scope orders:write). For the story, `POST /orders?how=…` tries one of three ways to call
ms_payments, so that they can be seen side by side (a real service only ever does the third):

- `forward`: send on the caller's token as it came. It is addressed to ms_orders, so ms_payments
  refuses it (401, wrong audience): a token is good for one audience only.
- `own`: ask the portal for payments:charge with ms_orders' own credentials, a "god mode" token
  that would charge anyone's card. Nothing grants it to ms_orders' client: invalid_scope.
- `exchange`: trade the caller's token for one addressed to ms_payments (RFC 8693), along the
  declared edge ms_orders → ms_payments (orders:write → payments:charge). The caller stays `sub`,
  ms_orders' client is the actor, and ms_payments accepts it.

    MS_ORDERS_ISSUER=… MS_ORDERS_CLIENT_ID=… MS_ORDERS_CLIENT_SECRET=… MS_PAYMENTS_URL=… \\
        python examples/ms_orders.py
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from authportal_client import Claims, TokenClient, TokenRequestError, Verifier
from authportal_client.bearer import bearer_token
from authportal_client.wsgi import ENVIRON_KEY, BearerTokenMiddleware
from claims_shown import claims_lines, named
from serving import ServiceSettings, WsgiApp, only_route, respond, serve, speaker

PAYMENTS = "https://payments.internal"


say = speaker("ms_orders")


def charge(payments_url: str, token: str) -> tuple[int, str, dict[str, Any]]:
    """POST /charges at ms_payments: its status, its challenge, its JSON body."""
    request = urllib.request.Request(payments_url + "/charges", method="POST", data=b"{}")  # noqa: S310 (ours)
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            return response.status, "", json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers.get("WWW-Authenticate", ""), json.loads(error.read() or b"{}")


def portal_refused(start_response: Callable[..., Any], refusal: TokenRequestError, what: str) -> list[bytes]:
    say(f"{what}: {refusal.error}: {refusal.description}")
    document = {"refused_by": "portal", "error": refusal.error, "error_description": refusal.description}
    return respond(start_response, "502 Bad Gateway", document)


def make_app(tokens: TokenClient, payments_url: str, names: dict[str, str]) -> WsgiApp:
    shown: set[str | None] = set()  # the tokens whose claims were printed already (by jti)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if (answer := only_route(environ, start_response, "POST", "/orders")) is not None:
            return answer
        claims: Claims = environ[ENVIRON_KEY]
        received = bearer_token(environ.get("HTTP_AUTHORIZATION"))
        assert received is not None  # the middleware let the request through with a good token
        how = parse_qs(environ.get("QUERY_STRING", "")).get("how", ["exchange"])[0]
        if claims.token_id in shown:
            say(f"POST /orders?how={how} from {named(claims.client_id, names)}, the same token as before")
        else:
            shown.add(claims.token_id)
            say(f"POST /orders?how={how} from {named(claims.client_id, names)}, the token says")
            for line in claims_lines(claims, names):
                say(line)

        if how == "forward":
            say("forwards the caller's token to ms_payments as it came")
            token = received
        elif how == "own":
            say("asks the portal for payments:charge with its own credentials (client_credentials)")
            try:
                token = tokens.get_token(resource=PAYMENTS, scope="payments:charge")
            except TokenRequestError as refusal:
                return portal_refused(start_response, refusal, "the portal refused")
        elif how == "exchange":
            say("exchanges the caller's token for one addressed to ms_payments (RFC 8693)")
            try:
                token = tokens.exchange(received, resource=PAYMENTS, scope="payments:charge")
            except TokenRequestError as refusal:
                return portal_refused(start_response, refusal, "the portal refused the exchange")
        else:
            return respond(start_response, "400 Bad Request", {"error": "how is forward, own or exchange"})

        status, challenge, document = charge(payments_url, token)
        if status != 201:
            say(f"ms_payments refused: {status}  {challenge}")
            return respond(
                start_response,
                "502 Bad Gateway",
                {"refused_by": "ms_payments", "status": status, "www_authenticate": challenge, **document},
            )
        say(f"ms_payments charged: {document['charge']}")
        return respond(start_response, "201 Created", {"order": 42, "charge": document})

    return app


def main() -> None:
    settings = ServiceSettings.from_environment("MS_ORDERS", audience="https://orders.internal", port=8002)
    tokens = TokenClient(settings.issuer, settings.get("CLIENT_ID"), settings.get("CLIENT_SECRET"))
    app = BearerTokenMiddleware(
        make_app(tokens, os.environ["MS_PAYMENTS_URL"], settings.callers),
        Verifier(settings.issuer, settings.audience),
        required_scopes=["orders:write"],
        exempt_paths=["/health"],
        realm="ms_orders",
    )
    serve(app, port=settings.port, say=say, serving=settings.serving)


if __name__ == "__main__":
    main()
