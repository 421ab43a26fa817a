"""Every request observed once it is answered: Prometheus series, and for protocol requests a log line
(`authportal.requests`, INFO): method, path, status, outcome, client id (only an authenticated one:
see monitoring/outcomes.py), request id, address and time. Never a header, a parameter or a body, so
never a secret, a token or an assertion.

Installed right after the request id (so that the throttling's 429s are observed too).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from monitoring import metrics
from monitoring.outcomes import Outcome, outcome_of
from oauth.errors import PROTOCOL_PATH_PREFIXES
from throttling.addresses import client_address

request_log = logging.getLogger("authportal.requests")


def _endpoint(request: HttpRequest) -> str:
    match = request.resolver_match
    if match is None:  # answered before URL resolution (a 429 from the limits)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return "unknown"
    return match.view_name or "unknown"


def _count(outcome: Outcome, seconds: float) -> None:
    metrics.REQUESTS.labels(outcome.endpoint, str(outcome.status)).inc()
    metrics.REQUEST_SECONDS.labels(outcome.endpoint).observe(seconds)
    if outcome.endpoint != "oauth:token":
        return
    if outcome.outcome == "issued":
        metrics.TOKENS_ISSUED.labels(outcome.client_id, outcome.audience, outcome.grant).inc()
    elif outcome.outcome == "throttled":
        metrics.TOKENS_THROTTLED.labels(outcome.throttle_limit).inc()
    else:
        metrics.TOKENS_REFUSED.labels(outcome.client_id, outcome.outcome).inc()


def request_observer_middleware(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = get_response(request)
        seconds = time.perf_counter() - started
        outcome = outcome_of(request, response, endpoint=_endpoint(request))
        _count(outcome, seconds)
        if request.path.startswith(PROTOCOL_PATH_PREFIXES):
            request_log.info(
                "%s %s %s %s client=%s request_id=%s %.1fms",
                request.method,
                request.path,
                outcome.status,
                outcome.outcome,
                outcome.client_id or "-",
                getattr(request, "request_id", ""),
                seconds * 1000,
                extra={
                    "request_id": getattr(request, "request_id", ""),
                    "method": request.method,
                    "path": request.path,
                    "status": outcome.status,
                    "outcome": outcome.outcome,
                    "client_id": outcome.client_id,
                    "duration_ms": round(seconds * 1000, 2),
                    "remote_addr": client_address(request.META),
                },
            )
        return response

    return middleware
