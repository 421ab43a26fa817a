"""Who may read /metrics: a bearer token (AUTHPORTAL_METRICS_TOKEN), or an allowed address
(AUTHPORTAL_METRICS_ALLOW, as trusted proxies decide the address). Neither set: nobody."""

from __future__ import annotations

import hmac
import ipaddress

from django.http import HttpRequest

from core.conf import app_settings
from throttling.addresses import client_address


def metrics_allowed(request: HttpRequest) -> bool:
    token = app_settings.METRICS_TOKEN
    if token:
        scheme, _, offered = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(offered.strip().encode(), token.encode()):
            return True
    if app_settings.METRICS_ALLOW:
        try:
            address = ipaddress.ip_address(client_address(request.META))
        except ValueError:
            return False
        return any(
            address in ipaddress.ip_network(allowed, strict=False) for allowed in app_settings.METRICS_ALLOW
        )
    return False
