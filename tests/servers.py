"""Processes that tests start on the test database: a Celery worker, and the production HTTP server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def server_environment(data_dir: Path) -> dict[str, str]:
    """The environment of a process that shares this test's database, keys and secrets."""
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "postgresql":
        url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    else:
        url = f"sqlite:///{db['NAME']}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DATABASE_URL=url,
        AUTHPORTAL_DATA_DIR=str(data_dir),  # a Celery worker's embedded broker when there is no REDIS_URL
        AUTHPORTAL_KEK=settings.AUTHPORTAL_KEK,
        SECRET_KEY=settings.SECRET_KEY,
        AUTHPORTAL_ISSUER=settings.AUTHPORTAL_ISSUER,
    )
    return env


def free_port() -> int:
    """AUTHPORTAL_TEST_SERVER_PORT when set (a shared machine may give each engineer a range), else any."""
    if os.environ.get("AUTHPORTAL_TEST_SERVER_PORT"):
        return int(os.environ["AUTHPORTAL_TEST_SERVER_PORT"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def granian_serving(
    *, env: dict[str, str], log: Path, port: int | None = None, workers: int = 1, threads: int = 2
) -> Iterator[int]:
    """AuthPortal served as bin/run serves it (granian, WSGI) on loopback; yields the port."""
    port = port or free_port()
    granian = Path(sys.executable).parent / "granian"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [
                str(granian),
                "--interface",
                "wsgi",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-ws",
                "--workers",
                str(workers),
                "--blocking-threads",
                str(threads),
                "authportal.wsgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/.well-known/jwks.json", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"granian did not start: {log.read_text()[-3000:]}") from None
                time.sleep(0.2)
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
