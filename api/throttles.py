from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from core.conf import app_settings

if TYPE_CHECKING:  # a real import would be circular: DRF reads its settings as it loads
    from rest_framework.views import APIView


class CallerRateThrottle(SimpleRateThrottle):
    """AUTHPORTAL_API_RATE_PER_MINUTE requests a minute per caller (client id or user), else per address."""

    scope = "api"

    def get_rate(self) -> str:
        return f"{app_settings.API_RATE_PER_MINUTE}/min"

    def get_cache_key(self, request: Request, view: APIView) -> str:
        user = request.user
        ident = str(user.pk) if user is not None and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
