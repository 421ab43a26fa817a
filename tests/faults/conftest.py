"""A PostgreSQL, a Redis and the real server (as bin/run starts it: tests/servers.py) that the fault tests own.

Nothing here touches the machine's shared PostgreSQL (5432) or Redis (6379): the tests start their
own on free ports in 18400-18499, stop, freeze and restart them at will, and stop them at the end.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests

from tests import servers

ROOT = servers.ROOT
AUDIENCE = "https://api.faults.internal"


def postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


PORTS = range(18400, 18500)


def free_port() -> int:
    return servers.free_port(PORTS)


def wait_until(check, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout} s")


def children_of(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(stat.parent.name))
    return children


class Postgres:
    """A throw-away cluster. As root, it runs as the postgres user (postgres refuses root)."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="ap-faults-pg."))
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        as_root = os.geteuid() == 0
        self.user = {"user": "postgres", "group": "postgres", "extra_groups": []} if as_root else {}
        if as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run(
            [self.bin / "initdb", "-D", self.dir / "data", "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            check=True,
            stdout=subprocess.DEVNULL,
            **self.user,
        )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/authportal"

    def start(self) -> None:
        # Its own session, so that a freeze stops the postmaster and every backend at once.
        self.process = subprocess.Popen(
            [
                self.bin / "postgres",
                "-D",
                self.dir / "data",
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.dir}",
                "-c",
                "fsync=off",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(self.dir / "postgres.log").open("ab"),
            start_new_session=True,
            **self.user,
        )
        wait_until(self.accepts, timeout=30, what="PostgreSQL started")

    def accepts(self) -> bool:
        with psycopg.connect(f"postgres://postgres@127.0.0.1:{self.port}/postgres", connect_timeout=2):
            return True

    def stop(self) -> None:
        if self.process is not None:
            self.thaw()
            self.process.send_signal(signal.SIGINT)  # fast shutdown: clients are disconnected
            self.process.wait(30)
            self.process = None

    def freeze(self) -> None:
        """SIGSTOP the postmaster, then every backend: the kernel still accepts and ACKs for them."""
        self._signal_all(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal_all(signal.SIGCONT)

    def _signal_all(self, signum: int) -> None:
        if self.process is None:
            return
        # Each backend has a session of its own (PostgreSQL calls setsid()), so not one process group.
        for pid in [self.process.pid, *children_of(self.process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def query(self, sql: str, *params) -> list[tuple]:
        with psycopg.connect(self.url, connect_timeout=5) as connection:
            return connection.execute(sql, params).fetchall()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(self.accepts, timeout=10, what="Redis started")

    def accepts(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
            probe.sendall(b"PING\r\n")
            return probe.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@dataclass
class Portal:
    """The served product, and a client granted `api:read` on AUDIENCE."""

    postgres: Postgres
    redis: Redis
    env: dict[str, str]
    data_dir: Path
    port: int = 0
    server: ExitStack | None = None
    client_id: str = ""
    client_secret: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def python(self, code: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120
        )

    def serve(self, **extra_env: str) -> None:
        """Serve as bin/run does, with the benchmark's 2 workers of 4 threads."""
        self.port = free_port()
        self.env["AUTHPORTAL_ISSUER"] = self.url
        self.server = ExitStack()
        self.server.enter_context(
            servers.granian_serving(
                env=self.env,
                log=self.data_dir / "server.log",
                port=self.port,
                workers=2,
                threads=4,
                extra_env=extra_env,
            )
        )

    def stop_serving(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    @property
    def basic_auth(self) -> str:
        return "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()

    def server_log(self) -> str:
        return (self.data_dir / "server.log").read_text(errors="replace")[-4000:]


SETUP = f"""
import io, os, django
os.environ["DJANGO_SETTINGS_MODULE"] = "authportal.settings"
django.setup()
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
call_command("collectstatic", interactive=False, verbosity=0)
call_command("ensure_signing_key", stdout=io.StringIO())
call_command("create_service", "faults_api", audience="{AUDIENCE}", scope=["api:read"], stdout=io.StringIO())
out = io.StringIO()
call_command("create_client", "faults", grant=["faults_api:api:read"], json=True, stdout=out)
print(out.getvalue().strip().splitlines()[-1])
"""


@pytest.fixture(scope="session")
def portal() -> Iterator[Portal]:
    if postgres_bin() is None or shutil.which("redis-server") is None:
        pytest.skip("the fault tests need PostgreSQL's server binaries (initdb) and redis-server")
    postgres = Postgres()
    redis = Redis()
    data_dir = Path(tempfile.mkdtemp(prefix="ap-faults-app."))
    try:
        postgres.start()
        redis.start()
        with psycopg.connect(
            f"postgres://postgres@127.0.0.1:{postgres.port}/postgres", autocommit=True
        ) as admin:
            admin.execute("CREATE DATABASE authportal")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_"))}
        env.update(
            DATABASE_URL=postgres.url,
            REDIS_URL=redis.url,
            AUTHPORTAL_DATA_DIR=str(data_dir),
            LOG_LEVEL="WARNING",
        )
        portal = Portal(postgres=postgres, redis=redis, env=env, data_dir=data_dir)
        # What `make run` sets up (bin/run), in one process rather than one per command.
        done = portal.python(SETUP)
        assert done.returncode == 0, done.stdout + done.stderr
        credentials = json.loads(done.stdout.strip().splitlines()[-1])
        portal.client_id, portal.client_secret = credentials["client_id"], credentials["client_secret"]
        yield portal
    finally:
        with contextlib.suppress(NameError):
            portal.stop_serving()
        redis.stop()
        postgres.destroy()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def served(portal: Portal) -> Iterator[Portal]:
    """The server started for one test, after its faults have been put right."""
    if portal.postgres.process is None:
        portal.postgres.start()
    if portal.redis.process is None:
        portal.redis.start()
    portal.serve()
    try:
        yield portal
    finally:
        portal.stop_serving()
        print("the server's log, last lines:\n" + portal.server_log())  # shown when the test fails
        if portal.postgres.process is None:
            portal.postgres.start()
        portal.postgres.thaw()
        if portal.redis.process is None:
            portal.redis.start()


@dataclass
class Answer:
    status: int
    seconds: float
    body: dict
    retry_after: str | None


@dataclass
class Load:
    """Callers asking for tokens in a loop, each on its own keep-alive connection, until stopped."""

    portal: Portal
    callers: int = 4
    answers: list[Answer] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Load:
        for _ in range(self.callers):
            thread = threading.Thread(target=self._ask, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _ask(self) -> None:
        session = requests.Session()
        headers = {"Authorization": self.portal.basic_auth}
        data = {"grant_type": "client_credentials", "resource": AUDIENCE}
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                response = session.post(f"{self.portal.url}/o/token", data=data, headers=headers, timeout=60)
            except requests.RequestException as exc:
                self.failures.append(f"{type(exc).__name__} after {time.monotonic() - started:.2f} s: {exc}")
                session = requests.Session()
                continue
            seconds = time.monotonic() - started
            try:
                body = response.json()
            except ValueError:
                body = {"not_json": response.text[:200]}
            self.answers.append(
                Answer(response.status_code, seconds, body, response.headers.get("Retry-After"))
            )
            if response.status_code != 200:
                time.sleep(0.05)  # a client that honours Retry-After would wait longer still

    def since(self, count: int) -> list[Answer]:
        return self.answers[count:]

    def tokens(self) -> list[str]:
        return [answer.body["access_token"] for answer in self.answers if answer.status == 200]


def jti_of(token: str) -> str:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]


def assert_every_token_has_one_row(portal: Portal, tokens: list[str]) -> None:
    rows = dict(
        portal.postgres.query(
            "SELECT details->>'jti', count(*) FROM audit_auditevent WHERE event = 'token.issued' GROUP BY 1"
        )
    )
    jtis = [jti_of(token) for token in tokens]
    assert len(set(jtis)) == len(jtis), "a jti was handed out twice"
    missing = [jti for jti in jtis if rows.get(jti) != 1]
    assert not missing, f"{len(missing)} of {len(jtis)} tokens received have no single committed row"
