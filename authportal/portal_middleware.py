"""The middleware only the portal and the admin API use, skipped by the protocol endpoints.

A protocol request (`/o/`, `/.well-known/`: `oauth.errors.PROTOCOL_PATH_PREFIXES`) is authenticated by
its client's credentials or carries none; it has no cookie, no session, no signed-in user, no message to
show and no HTML page to protect by CSP or to keep out of a cache. So each of the middleware below passes
such a request straight on and leaves its response alone, and the token endpoint does not pay for them
(bench/RESULTS.md, "Issue 17, second pass": "a lean path for the protocol URLs"). Every other request (the portal, /api/, /metrics,
the health checks) goes through them as before. CSRF and X-Frame-Options stay on every request, as
Django's deploy checks want them by name; the protocol views are CSRF-exempt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from csp.middleware import CSPMiddleware as _CSPMiddleware
from django.contrib.auth.middleware import AuthenticationMiddleware as _AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as _MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as _SessionMiddleware
from django.http import HttpRequest, HttpResponseBase

from oauth.errors import PROTOCOL_PATH_PREFIXES
from portal.middleware import no_store_for_signed_in_pages as _no_store_for_signed_in_pages

Middleware = Callable[[HttpRequest], HttpResponseBase]

# The hooks Django's handler calls on a middleware beside the call itself.
_HOOKS = ("process_view", "process_exception", "process_template_response")


def is_protocol_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(PROTOCOL_PATH_PREFIXES)


def portal_only(factory: Callable[..., Any]) -> Callable[[Middleware], Middleware]:
    """The middleware `factory` makes, for every request but the protocol requests: those skip it, its
    call and its hooks alike."""

    def make(get_response: Middleware) -> Middleware:
        wrapped = factory(get_response)

        def middleware(request: HttpRequest) -> HttpResponseBase:
            if is_protocol_request(request):
                return get_response(request)
            return wrapped(request)

        for name in _HOOKS:
            if hasattr(wrapped, name):
                setattr(middleware, name, _skipped_for_protocol_requests(getattr(wrapped, name)))
        return middleware

    return make


def _skipped_for_protocol_requests(hook: Callable[..., Any]) -> Callable[..., Any]:
    def portal_hook(request: HttpRequest, *args: Any) -> Any:
        return None if is_protocol_request(request) else hook(request, *args)

    return portal_hook


SessionMiddleware = portal_only(_SessionMiddleware)
AuthenticationMiddleware = portal_only(_AuthenticationMiddleware)
MessageMiddleware = portal_only(_MessageMiddleware)
CSPMiddleware = portal_only(_CSPMiddleware)
no_store_for_signed_in_pages = portal_only(_no_store_for_signed_in_pages)
