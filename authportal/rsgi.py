"""The server's entry point: Django's WSGI application behind granian's RSGI interface.

Why not granian's WSGI interface: it hands the application a request as soon as its headers are in,
and the body is read later, in the application's thread, with no deadline. Eight clients that send
headers and a few bytes of their body hold all eight threads (2 workers x 4) for as long as they
like, and nobody else is answered. Granian has a deadline for headers (`--http1-header-read-timeout`)
but none for a body, and a WSGI application cannot add one: the read blocks inside granian, and a
response sent while another thread is still reading the body freezes the worker.

Here the body is read on granian's event loop, where waiting costs no thread, within
`AUTHPORTAL_REQUEST_BODY_TIMEOUT_SECONDS` and at most `DATA_UPLOAD_MAX_MEMORY_SIZE` bytes; only a
complete request is handed to one of the worker's `AUTHPORTAL_THREADS` threads, which run Django as
granian's WSGI threads did. A request too slow is answered 408 and its connection closed; one too
large, 413 (RFC 6749 JSON on protocol paths, as every protocol error).
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(kw_only=True)
class RSGIApplication:
    """`application` served on granian's RSGI interface: a request is read whole on the event loop, within
    `body_timeout` seconds and `max_body_bytes`, then run on one of `threads` threads (one pool per
    worker). `protocol_paths` answer their 408/413 as RFC 6749 JSON; `on_shutdown` runs at worker exit."""

    application: WSGIApplication = field(kw_only=False)
    threads: int
    body_timeout: float
    max_body_bytes: int
    protocol_paths: tuple[str, ...]
    on_shutdown: Callable[[], None] = lambda: None
    _executor: ThreadPoolExecutor | None = field(default=None, init=False)

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # One pool per worker process, made in the worker (granian forks after importing us).
        self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="authportal")

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        # The worker is stopping: what it still holds in memory (throttled counts) is written now.
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self.on_shutdown()

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":
            return
        declared = scope.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            self._refuse(scope, protocol, 413, "The request body is too large.")
            return
        try:
            async with asyncio.timeout(self.body_timeout):
                # With a Content-Length (checked above) the body is read at once; without one
                # (chunked), piece by piece up to the limit.
                body = await protocol() if declared is not None else await self._body(protocol)
        except TimeoutError:
            self._refuse(scope, protocol, 408, "The request body did not arrive in time.")
            return
        if body is None:
            self._refuse(scope, protocol, 413, "The request body is too large.")
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._respond, loop, scope, protocol, body)

    async def _body(self, protocol: Any) -> bytes | None:
        chunks = []
        size = 0
        async for chunk in protocol:
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _respond(self, loop: asyncio.AbstractEventLoop, scope: Any, protocol: Any, body: bytes) -> None:
        """In a worker thread: run Django, and send its response (streamed if Django streams it)."""
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            started[:] = [int(status.split(" ", 1)[0]), headers]

        result = self.application(_environ(scope, body), start_response)
        try:
            if getattr(result, "streaming", False):
                transport = protocol.response_stream(*started)
                for chunk in result:
                    if chunk:
                        asyncio.run_coroutine_threadsafe(_send(transport, chunk), loop).result()
            else:
                protocol.response_bytes(*started, b"".join(result))
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def _refuse(self, scope: Any, protocol: Any, status: int, description: str) -> None:
        headers = [("connection", "close"), ("cache-control", "no-store")]
        if scope.path.startswith(self.protocol_paths):
            body = json.dumps({"error": "invalid_request", "error_description": description}).encode()
            headers.append(("content-type", "application/json"))
        else:
            body = description.encode()
            headers.append(("content-type", "text/plain; charset=utf-8"))
        protocol.response_bytes(status, headers, body)


async def _send(transport: Any, chunk: bytes) -> None:
    await transport.send_bytes(chunk)


def _environ(scope: Any, body: bytes) -> dict[str, Any]:
    """PEP 3333's environ for an RSGI scope, as granian's WSGI interface builds it."""
    host, _, port = scope.server.rpartition(":")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": scope.path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.query_string,
        "SERVER_NAME": host,
        "SERVER_PORT": port,
        "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
        "REMOTE_ADDR": scope.client.rpartition(":")[0].strip("[]"),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in scope.headers.items():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_LENGTH":
            continue  # the body's own length, set above
        key = key if key == "CONTENT_TYPE" else f"HTTP_{key}"
        separator = ";" if key == "HTTP_COOKIE" else ","  # cookies cannot be joined with commas
        environ[key] = f"{environ[key]}{separator}{value}" if key in environ else value
    if "HTTP_HOST" not in environ and scope.authority:
        environ["HTTP_HOST"] = scope.authority
    return environ


def _application() -> RSGIApplication:
    from django.conf import settings

    from authportal.wsgi import application as django_application
    from core.conf import app_settings
    from oauth.errors import PROTOCOL_PATH_PREFIXES
    from throttling.ledger import ledger_flush_at_shutdown

    return RSGIApplication(
        django_application,
        threads=app_settings.THREADS,
        body_timeout=app_settings.REQUEST_BODY_TIMEOUT_SECONDS,
        max_body_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
        protocol_paths=PROTOCOL_PATH_PREFIXES,
        on_shutdown=ledger_flush_at_shutdown,
    )


application = _application()
