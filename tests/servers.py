"""Processes that tests start on the test database: the production HTTP server and the commands.

The server starts as `make run` serves it, through `bin/serve` (granian, RSGI, authportal.rsgi), so
what the fuzz, the fault and the across-processes tests prove is what production runs. A process
gets the test's database, KEK, secret key and issuer, and no REDIS_URL unless the test names one, as
on the default set-up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Our servers listen on loopback ports in this range only (the machine is shared; set
# AUTHPORTAL_TEST_SERVER_PORT to give each engineer 100 ports of their own).
_FIRST_PORT = int(os.environ.get("AUTHPORTAL_TEST_SERVER_PORT") or 18300)
PORTS = range(_FIRST_PORT, _FIRST_PORT + 100)
_handed_out: set[int] = set()


def server_environment(data_dir: Path, *, redis_url: str | None = None) -> dict[str, str]:
    """The environment of a process that shares this test's database, keys and secrets."""
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "postgresql":
        url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    else:
        url = f"sqlite:///{db['NAME']}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST") and k != "REDIS_URL"}
    env.update(
        DATABASE_URL=url,
        AUTHPORTAL_DATA_DIR=str(data_dir),  # a Celery worker's embedded broker when there is no REDIS_URL
        AUTHPORTAL_KEK=settings.AUTHPORTAL_KEK,
        SECRET_KEY=settings.SECRET_KEY,
        AUTHPORTAL_ISSUER=settings.AUTHPORTAL_ISSUER,
        LOG_LEVEL="WARNING",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def free_port(ports: range = PORTS) -> int:
    """A port of `ports` that is free now and not yet handed out by this process."""
    for port in ports:
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {ports}")


@contextmanager
def granian_serving(**options: Any) -> Iterator[int]:
    """AuthPortal served on loopback exactly as bin/run serves it (bin/serve); yields the port once
    the metadata answers 200 (the database is there), and stops the server (its whole process group) on
    the way out. Options: granian_process's."""
    with granian_process(**options) as (_server, port):
        yield port


@contextmanager
def granian_process(
    *,
    env: dict[str, str],
    log: Path,
    port: int | None = None,
    workers: int = 1,
    threads: int = 2,
    extra_env: dict[str, str] | None = None,
) -> Iterator[tuple[subprocess.Popen, int]]:
    """The server of granian_serving and its port, for a test that kills the server's process group itself."""
    port = port or free_port()
    serve_env = {
        **env,
        "PY": sys.executable,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "GRANIAN_WORKERS": str(workers),
        "AUTHPORTAL_THREADS": str(threads),
        **(extra_env or {}),
    }
    with log.open("ab") as output:
        server = subprocess.Popen(
            [ROOT / "bin" / "serve"],
            cwd=ROOT,
            env=serve_env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/.well-known/oauth-authorization-server", timeout=2
                )
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"granian did not start: {log.read_text()[-3000:]}") from None
                time.sleep(0.2)
        yield server, port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def manage(data_dir: Path, *args: str, redis_url: str | None = None) -> subprocess.CompletedProcess:
    """`python manage.py ARGS` as an operator runs it, on the test database."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=server_environment(data_dir, redis_url=redis_url),
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextmanager
def http_serving(handler: type[BaseHTTPRequestHandler], *, ports: Iterable[int] = (0,)) -> Iterator[str]:
    """`handler` served on loopback by a thread, on the first free port of `ports` (0: any): yields its
    URL, and stops serving on exit."""
    server = None
    for port in ports:
        with contextlib.suppress(OSError):
            server = ThreadingHTTPServer(("127.0.0.1", port), handler)
            break
    assert server is not None, f"no free port in {ports}"
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
