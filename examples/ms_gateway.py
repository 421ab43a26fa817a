"""ms_gateway: the edge of the system, where users' requests come in with their own tokens.

A user's app calls `POST /orders` with the user's token from the login service (an issuer the
portal trusts, `add_trusted_issuer`). The gateway does not pass that token on: it exchanges it at
the portal (RFC 8693, `subject_token_type=…:jwt`) along its edge `@user → orders:write` for a token
addressed to ms_orders, whose `sub` is the user (`user:<slug>:<user id>`) and whose actor is the
gateway's client; then places the order at ms_orders, which exchanges once more to charge it.

    MS_GATEWAY_ISSUER=… MS_GATEWAY_CLIENT_ID=… MS_GATEWAY_CLIENT_SECRET=… MS_ORDERS_URL=… \\
        python examples/ms_gateway.py
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from authportal_client import JWT_TOKEN_TYPE, TokenClient, TokenRequestError
from authportal_client.bearer import bearer_token
from serving import only_route, respond, serve, speaker

ORDERS = "https://orders.internal"


say = speaker("ms_gateway")


def place_order(orders_url: str, token: str) -> tuple[int, dict[str, Any]]:
    """POST /orders at ms_orders (which exchanges again to charge it): its status and JSON body."""
    request = urllib.request.Request(orders_url + "/orders?how=exchange", method="POST", data=b"{}")  # noqa: S310
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read() or b"{}")


def make_app(tokens: TokenClient, orders_url: str) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if (answer := only_route(environ, start_response, "POST", "/orders")) is not None:
            return answer
        user_token = bearer_token(environ.get("HTTP_AUTHORIZATION"))
        if user_token is None:
            return respond(start_response, "401 Unauthorized", {"error": "invalid_token"})
        say("POST /orders with a user's token: exchanges it for one addressed to ms_orders (…:jwt)")
        try:
            # The portal verifies the user token (issuer, keys, audience, expiry) as it exchanges it.
            token = tokens.exchange(
                user_token, resource=ORDERS, scope="orders:write", subject_token_type=JWT_TOKEN_TYPE
            )
        except TokenRequestError as refusal:
            say(f"the portal refused the exchange: {refusal.error}: {refusal.description}")
            return respond(
                start_response,
                "502 Bad Gateway",
                {"refused_by": "portal", "error": refusal.error, "error_description": refusal.description},
            )
        status, document = place_order(orders_url, token)
        say(f"ms_orders answered {status}")
        return respond(start_response, "201 Created" if status == 201 else "502 Bad Gateway", document)

    return app


def main() -> None:
    issuer = os.environ["MS_GATEWAY_ISSUER"]
    port = int(os.environ.get("MS_GATEWAY_PORT", "8004"))
    tokens = TokenClient(issuer, os.environ["MS_GATEWAY_CLIENT_ID"], os.environ["MS_GATEWAY_CLIENT_SECRET"])
    app = make_app(tokens, os.environ["MS_ORDERS_URL"])
    serve(app, port=port, say=say, serving=f"exchanging users' tokens at {issuer}")


if __name__ == "__main__":
    main()
