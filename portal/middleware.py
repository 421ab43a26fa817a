from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


def no_store_for_signed_in_pages(get_response: Callable[[HttpRequest], HttpResponse]):
    """Pages shown to a signed-in user are never kept by the browser or a proxy (back button, shared PCs)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "Cache-Control" not in response:
            response["Cache-Control"] = "no-store, private"
        return response

    return middleware
