"""What the example services share: their settings from the environment, their line in the story's
output, a JSON answer, and a small threaded WSGI server on loopback (standard library only)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any, NoReturn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class ServiceSettings:
    """A story service's settings, from PREFIX_ISSUER (required), PREFIX_AUDIENCE, PREFIX_PORT and
    PREFIX_CALLERS (a JSON object: client id → the calling service's name, for the story's lines)."""

    prefix: str
    issuer: str
    audience: str
    port: int
    callers: dict[str, str]

    @classmethod
    def from_environment(cls, prefix: str, *, audience: str, port: int) -> ServiceSettings:
        return cls(
            prefix=prefix,
            issuer=os.environ[f"{prefix}_ISSUER"],
            audience=os.environ.get(f"{prefix}_AUDIENCE", audience),
            port=int(os.environ.get(f"{prefix}_PORT", str(port))),
            callers=json.loads(os.environ.get(f"{prefix}_CALLERS", "{}")),
        )

    def get(self, name: str, default: str | None = None) -> str:
        """PREFIX_NAME, required unless a default is given."""
        return (
            os.environ[f"{self.prefix}_{name}"]
            if default is None
            else os.environ.get(f"{self.prefix}_{name}", default)
        )

    @property
    def serving(self) -> str:
        return f"audience {self.audience}, trusting tokens from {self.issuer}"


def speaker(name: str) -> Callable[[str], None]:
    """Print a line as `name`, in the story's column."""

    def say(message: str) -> None:
        print(f"  {name:<12}│ {message}", flush=True)

    return say


def respond(start_response: Callable[..., Any], status: str, document: Any) -> list[bytes]:
    body = json.dumps(document).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def only_route(
    environ: dict[str, Any], start_response: Callable[..., Any], method: str, path: str
) -> list[bytes] | None:
    """The answer to `/health` and to any request but `method path`; None for that one."""
    if environ.get("PATH_INFO", "") == "/health":
        return respond(start_response, "200 OK", {"ok": True})
    if (environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")) != (method, path):
        return respond(start_response, "404 Not Found", {"error": "not_found"})
    return None


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def serve(app: WsgiApp, *, port: int, say: Callable[[str], None], serving: str) -> NoReturn:
    """Serve `app` on 127.0.0.1:`port` until interrupted, then exit 0; `serving` says for what."""
    with make_server(
        "127.0.0.1", port, app, server_class=_ThreadingServer, handler_class=_QuietHandler
    ) as server:
        say(f"listening on http://127.0.0.1:{port}, {serving}")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    sys.exit(0)
