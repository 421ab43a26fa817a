"""Every Prometheus series AuthPortal exports: one home, named once.

Counters and histograms are updated where things happen (monitoring/middleware.py, and the audit's
commit observer); gauges that describe the database's state (key age, time to the next rotation, the
audit seal's lag) are read when Prometheus scrapes. Under the server, `bin/serve` sets
PROMETHEUS_MULTIPROC_DIR, so prometheus_client keeps each granian worker's values in files there and
a scrape of any worker sums them all (its multiprocess mode).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from keys.models import SigningKey
from keys.selectors import key_schedule
from monitoring.selectors import audit_seal_lag

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

TOKENS_ISSUED = Counter(
    "authportal_tokens_issued",
    "Access tokens issued, by client id and audience (the service's audience; several joined by spaces).",
    ["client", "audience", "grant"],
)
TOKENS_REFUSED = Counter(
    "authportal_tokens_refused",
    "Token requests refused, by RFC 6749 error and client id (empty when the client did not authenticate).",
    ["client", "error"],
)
TOKENS_THROTTLED = Counter(
    "authportal_tokens_throttled",
    "Token requests refused with 429 for going over a limit, by limit.",
    ["limit"],
)
REQUESTS = Counter(
    "authportal_requests",
    "HTTP requests by endpoint (the URL's name, such as oauth:jwks or oauth:token) and status.",
    ["endpoint", "status"],
)
REQUEST_SECONDS = Histogram(
    "authportal_request_duration_seconds",
    "Time to answer an HTTP request, by endpoint.",
    ["endpoint"],
    buckets=_LATENCY_BUCKETS,
)
AUDIT_COMMIT_SECONDS = Histogram(
    "authportal_audit_commit_seconds",
    "Time from sending a token request's audit INSERT to reading its commit (PostgreSQL).",
    buckets=_LATENCY_BUCKETS,
)


def audit_commit_observe(seconds: float) -> None:
    AUDIT_COMMIT_SECONDS.observe(seconds)


class DatabaseStateCollector(Collector):
    """Gauges read from the database at scrape time (the process that answers the scrape reads them)."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        age = GaugeMetricFamily(
            "authportal_signing_key_age_seconds", "Seconds since the active signing key started signing."
        )
        to_rotation = GaugeMetricFamily(
            "authportal_signing_key_next_rotation_seconds",
            "Seconds until the active signing key's scheduled rotation (negative: overdue).",
        )
        for row in key_schedule():
            if row.key.state == SigningKey.State.ACTIVE:
                started = row.key.activated_at or row.key.created_at
                age.add_metric([], (now - started).total_seconds())
                if row.retires_at is not None:
                    to_rotation.add_metric([], (row.retires_at - now).total_seconds())
        lag = GaugeMetricFamily(
            "authportal_audit_seal_lag_seconds", "Seconds the oldest audit event not yet sealed has waited."
        )
        lag.add_metric([], audit_seal_lag(now=now))
        yield from (age, to_rotation, lag)


def metrics_exposition() -> bytes:
    """The text Prometheus scrapes: every worker's counters and histograms, then the database's gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        workers = CollectorRegistry()
        MultiProcessCollector(workers)
        counted = generate_latest(workers)
    else:
        from prometheus_client import REGISTRY

        counted = generate_latest(REGISTRY)
    state = CollectorRegistry()
    state.register(DatabaseStateCollector())
    return counted + generate_latest(state)
