"""No token without its committed audit row, even through crashes: the server's whole process group killed
with SIGKILL in the middle of a load, then PostgreSQL's backends serving it terminated, and still every
token a client received has exactly one committed `token.issued` row.

Requests that fail in the crash are allowed (the client sees an error or a dropped connection and asks
again); a row without a received token is allowed too (the server died after the commit, before the
answer left). A token without its row is the one thing that must never happen.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter

import jwt
import pytest
import requests
from django.db import connection

from audit.models import AuditEvent
from tests.servers import granian_process, server_environment

pytestmark = pytest.mark.django_db(transaction=True)

DOCTORS = "https://doctors.internal"
CALLERS = 6


class Load:
    """CALLERS threads asking for tokens from whichever server is current, keeping every token received."""

    def __init__(self, client_id: str, secret: str) -> None:
        self.credentials = (client_id, secret)
        self.url = ""
        self.jtis: list[str] = []
        self.failures = 0
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._ask, daemon=True) for _ in range(CALLERS)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def received(self) -> int:
        with self._lock:
            return len(self.jtis)

    def _ask(self) -> None:
        session = requests.Session()
        while not self.stopping.is_set():
            try:
                answer = session.post(
                    f"{self.url}/o/token",
                    data={"grant_type": "client_credentials", "resource": DOCTORS},
                    auth=self.credentials,
                    timeout=5,
                )
            except requests.RequestException:
                answer = None
            if answer is not None and answer.status_code == 200:
                jti = jwt.decode(answer.json()["access_token"], options={"verify_signature": False})["jti"]
                with self._lock:
                    self.jtis.append(jti)
            else:
                with self._lock:
                    self.failures += 1
                session = requests.Session()  # a fresh connection after a dropped one
                time.sleep(0.02)


def served_until(load: Load, more: int, seconds: float = 60) -> None:
    """Wait until the load has received `more` tokens more than it had."""
    target = load.received() + more
    deadline = time.monotonic() + seconds
    while load.received() < target:
        assert time.monotonic() < deadline, f"the load stalled at {load.received()} tokens"
        time.sleep(0.05)


def test_every_token_received_through_a_server_kill_and_a_database_kill_has_exactly_one_row(
    tmp_path, ms_admin
):
    env = server_environment(tmp_path)
    options = {"workers": 2, "threads": 4}
    with Load(ms_admin.client.client_id, ms_admin.client_secret) as load:
        with granian_process(env=env, log=tmp_path / "first.log", **options) as (first, port):
            load.url = f"http://127.0.0.1:{port}"
            served_until(load, 100)
            os.killpg(first.pid, signal.SIGKILL)  # every worker at once, mid-request
            first.wait()
        killed_at = load.received()
        with granian_process(env=env, log=tmp_path / "second.log", **options) as (_second, port):
            load.url = f"http://127.0.0.1:{port}"
            served_until(load, 100)
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                terminated = cursor.fetchone()[0]
            served_until(load, 100)  # the server reconnects and goes on
    assert terminated >= 1
    print(
        f"{len(load.jtis)} tokens received, {load.failures} requests failed, {terminated} backends terminated"
    )

    rows = Counter(
        AuditEvent.objects.filter(event="token.issued", details__jti__in=load.jtis).values_list(
            "details__jti", flat=True
        )
    )
    assert len(load.jtis) == len(set(load.jtis)) > killed_at >= 100
    missing = [jti for jti in load.jtis if rows[jti] == 0]
    doubled = [jti for jti, count in rows.items() if count > 1]
    assert (missing, doubled) == ([], [])
