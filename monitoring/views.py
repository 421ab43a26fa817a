"""/healthz (the process answers) and /readyz (it can serve tokens now): JSON, for load balancers."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from monitoring.access import metrics_allowed
from monitoring.health import readiness_check
from monitoring.metrics import metrics_exposition
from oauth.errors import json_no_store


@csrf_exempt
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: answered without touching the database, Redis or a key."""
    return json_no_store({"status": "ok"})


@csrf_exempt
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    readiness = readiness_check(now=timezone.now())
    return json_no_store(readiness.as_json(), status=200 if readiness.ready else 503)


@csrf_exempt
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus' text format, for a scraper with AUTHPORTAL_METRICS_TOKEN or from an allowed address."""
    if not metrics_allowed(request):
        response = HttpResponse(
            "Forbidden: send the metrics bearer token, or scrape from an allowed address.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Bearer realm="authportal-metrics"'
        return response
    response = HttpResponse(metrics_exposition(), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
