"""Slow clients hold no thread: while they dribble, a fast client keeps its latency; they are dropped."""

from __future__ import annotations

import socket
import statistics
import time

import pytest
import requests

from tests.faults.conftest import AUDIENCE, Portal

pytestmark = pytest.mark.faults

# Short deadlines, so the test need not wait the production ones (10 s each).
BODY_SECONDS = 2
HEADER_MS = 2000


@pytest.fixture
def served_with_short_deadlines(portal: Portal):
    portal.serve(
        AUTHPORTAL_REQUEST_BODY_TIMEOUT_SECONDS=str(BODY_SECONDS),
        GRANIAN_HTTP1_HEADER_READ_TIMEOUT=str(HEADER_MS),
    )
    try:
        yield portal
    finally:
        portal.stop_serving()
        print("the server's log, last lines:\n" + portal.server_log())


def token_latencies(portal: Portal, count: int) -> list[float]:
    session = requests.Session()
    seconds = []
    for _ in range(count):
        started = time.monotonic()
        response = session.post(
            f"{portal.url}/o/token",
            data={"grant_type": "client_credentials", "resource": AUDIENCE},
            headers={"Authorization": portal.basic_auth},
            timeout=10,
        )
        seconds.append(time.monotonic() - started)
        assert response.status_code == 200, response.text
    return seconds


def slow_connection(portal: Portal, first_bytes: bytes) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", portal.port), timeout=30)
    connection.sendall(first_bytes)
    return connection


def answer_and_close(connection: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when it closed it."""
    received = b""
    while chunk := connection.recv(4096):
        received += chunk
    return received, time.monotonic()


def test_slow_clients_are_dropped_while_a_fast_client_keeps_its_latency(served_with_short_deadlines: Portal):
    portal = served_with_short_deadlines
    usual = statistics.median(token_latencies(portal, 30))

    headers = (
        f"POST /o/token HTTP/1.1\r\nHost: 127.0.0.1:{portal.port}\r\nAuthorization: {portal.basic_auth}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\n"
    )
    opened = time.monotonic()
    # Eight with their headers and a few bytes of a 4,000-byte body: as many as the server has threads.
    slow_bodies = [slow_connection(portal, (headers + "grant_type=cl").encode()) for _ in range(8)]
    # Four more that never finish their headers.
    slow_headers = [slow_connection(portal, b"POST /o/token HTTP/1.1\r\nHost: x\r\n") for _ in range(4)]

    meanwhile = token_latencies(portal, 30)

    body_answers = [answer_and_close(connection) for connection in slow_bodies]
    header_answers = [answer_and_close(connection) for connection in slow_headers]
    for connection in slow_bodies + slow_headers:
        connection.close()

    # The fast client's latency while the slow ones wait: its usual, give or take a busy machine.
    assert statistics.median(meanwhile) < usual * 3 + 0.05, (usual, statistics.median(meanwhile))
    assert max(meanwhile) < 1.0
    # Each slow body is answered 408 (RFC 6749 JSON on the token endpoint) and dropped at its deadline.
    for received, closed in body_answers:
        assert received.startswith(b"HTTP/1.1 408"), received[:200]
        assert b'"error": "invalid_request"' in received
        assert closed - opened < BODY_SECONDS + 3
    # Each slow header is dropped at the header deadline.
    for _, closed in header_answers:
        assert closed - opened < HEADER_MS / 1000 + 3
