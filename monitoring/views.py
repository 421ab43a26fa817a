"""/healthz (the process answers) and /readyz (it can serve tokens now): JSON, for load balancers."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from monitoring.health import readiness_check
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
