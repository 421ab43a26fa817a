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

import contextlib
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from authportal_client import JWT_TOKEN_TYPE, TokenClient, TokenRequestError
from authportal_client.bearer import bearer_token

ORDERS = "https://orders.internal"


def say(message: str) -> None:
    print(f"  ms_gateway  │ {message}", flush=True)


def respond(start_response: Callable[..., Any], status: str, document: Any) -> list[bytes]:
    body = json.dumps(document).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


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
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if path == "/health":
            return respond(start_response, "200 OK", {"ok": True})
        if (method, path) != ("POST", "/orders"):
            return respond(start_response, "404 Not Found", {"error": "not_found"})
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


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def main() -> None:
    issuer = os.environ["MS_GATEWAY_ISSUER"]
    port = int(os.environ.get("MS_GATEWAY_PORT", "8004"))
    tokens = TokenClient(issuer, os.environ["MS_GATEWAY_CLIENT_ID"], os.environ["MS_GATEWAY_CLIENT_SECRET"])
    app = make_app(tokens, os.environ["MS_ORDERS_URL"])
    with make_server(
        "127.0.0.1", port, app, server_class=_ThreadingServer, handler_class=_QuietHandler
    ) as server:
        say(f"listening on http://127.0.0.1:{port}, exchanging users' tokens at {issuer}")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
