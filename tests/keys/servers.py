"""Real server processes on the test database: granian as `make run` starts it, and the commands.

A test that proves something across processes (two portals that must agree, a command run the way
an operator runs it) starts them here, each with the test's database and secrets and nothing else:
no REDIS_URL unless the test names one, as on the default set-up.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
GRANIAN = Path(sys.executable).with_name("granian")
# Our servers listen on loopback ports in this range only (the machine is shared).
PORTS = range(18300, 18400)


def worker_environment(tmp_path: Path, *, redis_url: str | None = None) -> dict[str, str]:
    """The environment of a process that shares this test's database, KEK and issuer."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    else:
        url = f"sqlite:///{db['NAME']}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST") and k != "REDIS_URL"}
    env.update(
        DATABASE_URL=url,
        AUTHPORTAL_DATA_DIR=str(tmp_path),  # its own embedded broker when there is no REDIS_URL
        AUTHPORTAL_KEK=settings.AUTHPORTAL_KEK,
        SECRET_KEY=settings.SECRET_KEY,
        AUTHPORTAL_ISSUER=settings.AUTHPORTAL_ISSUER,
        LOG_LEVEL="WARNING",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS}")


def closed_port_url() -> str:
    """A redis:// URL where nothing listens: Redis is down."""
    return f"redis://127.0.0.1:{free_port()}/0"


@contextmanager
def granian_servers(tmp_path: Path, count: int = 2, *, redis_url: str | None = None) -> Iterator[list[str]]:
    """`count` separate granian servers (one worker each) on loopback; yields their base URLs."""
    processes, urls = [], []
    try:
        for index in range(count):
            port = free_port()
            log = (tmp_path / f"granian-{index}.log").open("w")
            processes.append(
                subprocess.Popen(
                    [
                        str(GRANIAN),
                        "--interface",
                        "wsgi",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--no-ws",
                    ]
                    + ["--workers", "1", "--blocking-threads", "4", "authportal.wsgi:application"],
                    cwd=ROOT,
                    env=worker_environment(tmp_path, redis_url=redis_url),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
            _wait_until_serving(urls[-1], processes[-1], tmp_path / f"granian-{index}.log")
        yield urls
    finally:
        for process in processes:
            os.killpg(process.pid, 15)
        for process in processes:
            process.wait(30)


def _wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"granian exited: {log.read_text()[-3000:]}")
        try:
            requests.get(f"{url}/.well-known/oauth-authorization-server", timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise RuntimeError(f"granian did not start: {log.read_text()[-3000:]}")


def manage(tmp_path: Path, *args: str, redis_url: str | None = None) -> subprocess.CompletedProcess:
    """`python manage.py ARGS` as an operator runs it, on the test database."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=worker_environment(tmp_path, redis_url=redis_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
