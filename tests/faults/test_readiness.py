"""/readyz on the served product, with a PostgreSQL and a Redis of its own: unready, fast, while either
is stopped, and ready again once it is back; /healthz answers all along."""

from __future__ import annotations

import time

import pytest
import requests

from tests.faults.conftest import Portal, wait_until

pytestmark = pytest.mark.faults

FAST = 2.5  # the protocol's database deadline (1 s) and room for a busy machine


def probe(portal: Portal, path: str = "/readyz") -> tuple[int, dict, float]:
    started = time.monotonic()
    response = requests.get(f"{portal.url}{path}", timeout=30)
    return response.status_code, response.json(), time.monotonic() - started


def test_readyz_goes_unready_while_the_database_is_stopped_and_ready_when_it_returns(served: Portal):
    requests.post(  # the worker answering the probes has signed once: its key is in memory
        f"{served.url}/o/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": served.basic_auth},
    )
    wait_until(lambda: probe(served)[0] == 200, timeout=15, what="ready at first")
    served.postgres.stop()
    try:
        for _ in range(3):
            status, body, seconds = probe(served)
            assert status == 503, body
            assert body["status"] == "unready"
            assert body["checks"]["database"]["ok"] is False
            assert body["checks"]["broker"]["ok"] is True
            assert seconds < FAST, f"the probe took {seconds:.2f} s"
            assert probe(served, "/healthz")[:2] == (200, {"status": "ok"})
    finally:
        served.postgres.start()
    wait_until(lambda: probe(served)[0] == 200, timeout=15, what="ready once the database is back")


def test_readyz_goes_unready_while_redis_is_stopped_and_ready_when_it_returns(served: Portal):
    wait_until(lambda: probe(served)[0] == 200, timeout=15, what="ready at first")
    served.redis.stop()
    try:
        status, body, seconds = probe(served)
        assert status == 503 and body["checks"]["broker"]["ok"] is False, body
        assert body["checks"]["database"]["ok"] is True
        assert seconds < FAST
    finally:
        served.redis.start()
    wait_until(lambda: probe(served)[0] == 200, timeout=15, what="ready once Redis is back")
