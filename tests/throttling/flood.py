"""A flood of bad-secret token requests from one client id while a good client asks at a steady rate.

Used by tests/throttling/test_flood.py (through the real server) and bench/token_flood (20,000 requests,
printing the figures). The flood comes from one address and the good client from another, each named in
X-Forwarded-For by a proxy the server trusts (loopback), as behind a load balancer.
"""

from __future__ import annotations

import base64
import http.client
import json
import statistics
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

FLOOD_ADDRESS = "203.0.113.66"
GOOD_ADDRESS = "198.51.100.7"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@dataclass
class FloodResult:
    statuses: dict[int, int] = field(default_factory=dict)  # the flood's answers by status
    good_quiet: list[float] = field(default_factory=list)  # the good client's latencies, seconds
    good_during: list[float] = field(default_factory=list)
    good_statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    @staticmethod
    def p99(latencies: list[float]) -> float:
        return statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 2 else float("nan")

    def lines(self) -> list[str]:
        quiet, during = self.p99(self.good_quiet), self.p99(self.good_during)
        return [
            f"flood: {sum(self.statuses.values())} bad-secret requests in {self.seconds:.1f} s, answers {dict(sorted(self.statuses.items()))}",
            f"good client: answers {dict(sorted(self.good_statuses.items()))}; p99 quiet {quiet * 1000:.1f} ms "
            f"({len(self.good_quiet)} requests), during the flood {during * 1000:.1f} ms ({len(self.good_during)}): "
            f"{during / quiet:.2f}x",
        ]


class _Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.connection = http.client.HTTPConnection(host, port, timeout=30)

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
        for attempt in range(2):
            try:
                self.connection.request("POST", "/o/token", body=body, headers=headers)
                response = self.connection.getresponse()
                payload = response.read()
                return response.status, json.loads(payload) if payload else {}
            except (http.client.HTTPException, OSError):
                self.connection.close()
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def flood(
    *,
    host: str,
    port: int,
    audience: str,
    flood_client_id: str,
    good_client_id: str,
    good_secret: str,
    total: int,
    threads: int = 4,
    good_interval: float = 0.05,
    quiet_requests: int = 100,
) -> FloodResult:
    result = FloodResult()
    body = urlencode({"grant_type": "client_credentials", "resource": audience}).encode()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    good_headers = {
        **form,
        "Authorization": basic(good_client_id, good_secret),
        "X-Forwarded-For": GOOD_ADDRESS,
    }
    bad_headers = {
        **form,
        "Authorization": basic(flood_client_id, "wrong-secret"),
        "X-Forwarded-For": FLOOD_ADDRESS,
    }
    lock = threading.Lock()
    good = _Connection(host, port)

    def good_ask(into: list[float]) -> None:
        started = time.perf_counter()
        status, _ = good.post(body, good_headers)
        into.append(time.perf_counter() - started)
        result.good_statuses[status] = result.good_statuses.get(status, 0) + 1

    for _ in range(10):  # warm up: the server's first requests load the key and the client's credentials
        good_ask([])
    result.good_statuses.clear()
    for _ in range(quiet_requests):  # the quiet value: the good client alone, at the same steady rate
        good_ask(result.good_quiet)
        time.sleep(good_interval)

    remaining = [total]
    flooding = threading.Event()
    flooding.set()

    def bad_loop() -> None:
        connection = _Connection(host, port)
        while True:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            status, _ = connection.post(body, bad_headers)
            with lock:
                result.statuses[status] = result.statuses.get(status, 0) + 1

    started = time.monotonic()
    workers = [threading.Thread(target=bad_loop, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    while any(worker.is_alive() for worker in workers):
        good_ask(result.good_during)
        time.sleep(good_interval)
    result.seconds = time.monotonic() - started
    return result
