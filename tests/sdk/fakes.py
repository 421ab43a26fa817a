"""A scripted stand-in for the portal's HTTP side, on loopback, for failure modes the real one
cannot be asked to produce (503s, a hanging JWKS, a flood of kids)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.servers import http_serving


class FakePortal:
    def __init__(self) -> None:
        self.url = ""
        self.jwks: dict[str, Any] = {"keys": []}
        self.jwks_status = 200
        self.jwks_delay = 0.0  # seconds a JWKS answer takes, with the document as it was when asked
        self.jwks_headers = {"Cache-Control": "public, max-age=300", "ETag": '"v1"'}
        self.token_responses: list[tuple[int, dict[str, Any], dict[str, str]]] = []
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self.token_bodies: list[str] = []
        self.authorizations: list[str] = []
        self.lock = threading.Lock()
        self.token_delay = threading.Event()
        self.token_delay.set()

    def count(self, path: str) -> int:
        return sum(1 for _, seen in self.requests if seen == path)

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "token_endpoint": f"{self.url}/o/token",
            "jwks_uri": f"{self.url}/jwks.json",
        }

    def next_token_response(self) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self.lock:
            if self.token_responses:
                return self.token_responses.pop(0)
        return (
            200,
            {"access_token": f"token-{len(self.token_bodies)}", "token_type": "Bearer", "expires_in": 600},
            {},
        )


def _handler(portal: FakePortal) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(document).encode() if document is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            with portal.lock:
                portal.requests.append(("GET", self.path))
            if self.path == "/.well-known/oauth-authorization-server":
                self._send(200, portal.metadata())
            elif self.path == "/jwks.json":
                status, document, headers = portal.jwks_status, portal.jwks, dict(portal.jwks_headers)
                time.sleep(portal.jwks_delay)
                if status != 200:
                    self._send(status, {"error": "down"})
                elif self.headers.get("If-None-Match") and self.headers["If-None-Match"] == headers.get(
                    "ETag"
                ):
                    self._send(304, None, headers)
                else:
                    self._send(200, document, headers)
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            with portal.lock:
                portal.requests.append(("POST", self.path))
                portal.token_bodies.append(body)
                portal.authorizations.append(self.headers.get("Authorization", ""))
            portal.token_delay.wait(10)
            status, document, headers = portal.next_token_response()
            self._send(status, document, headers)

    return Handler


@contextmanager
def fake_portal() -> Iterator[FakePortal]:
    portal = FakePortal()
    with http_serving(_handler(portal)) as url:
        portal.url = url
        yield portal
