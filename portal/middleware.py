from __future__ import annotations

from collections.abc import Callable

from csp.middleware import CSPMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from oauth.errors import PROTOCOL_PATH_PREFIXES


def no_store_for_signed_in_pages(get_response: Callable[[HttpRequest], HttpResponse]):
    """Pages shown to a signed-in user are never kept by the browser or a proxy (back button, shared PCs)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        if request.path.startswith(PROTOCOL_PATH_PREFIXES):
            return response
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "Cache-Control" not in response:
            response["Cache-Control"] = "no-store, private"
        return response

    return middleware


class PortalCSPMiddleware(CSPMiddleware):
    """django-csp, skipped on the protocol endpoints: it builds the policy on every response, which
    costs the token endpoint a few percent for a header that a JSON API does not need."""

    def process_request(self, request: HttpRequest) -> None:
        if not request.path.startswith(PROTOCOL_PATH_PREFIXES):
            super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if request.path.startswith(PROTOCOL_PATH_PREFIXES):
            return response
        return super().process_response(request, response)
