"""Django: a middleware that verifies bearer tokens, and a view decorator that asks for scopes.

    # settings.py
    AUTHPORTAL_CLIENT = {"ISSUER": "https://auth.example.com", "AUDIENCE": "https://doctors.internal"}
    MIDDLEWARE = [..., "authportal_client.django.BearerTokenMiddleware"]

    @scope_required("doctors:read")
    def doctors(request): ...        # request.claims.client_id, request.claims.scopes

    @requires(scope="payments:charge", via=[ORDERS_CLIENT_ID])
    def charge(request): ...         # only ms_orders, acting for request.claims.subject

A request without a token goes through with `request.claims = None` (the decorator answers 401);
a request with a bad token is answered 401 at once. Optional keys: "JWKS_URL", "JWKS_FILE",
"LEEWAY", "REALM".
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse

from authportal_client.bearer import (
    Denial,
    Requirement,
    authenticate,
    bearer_token,
    unauthenticated,
)
from authportal_client.verifier import Verifier

_lock = threading.Lock()
_verifier: Verifier | None = None


def get_verifier() -> Verifier:
    """The process's Verifier, built once from settings.AUTHPORTAL_CLIENT (its JWKS cache is shared)."""
    global _verifier
    with _lock:
        if _verifier is None:
            config = getattr(settings, "AUTHPORTAL_CLIENT", None)
            if not isinstance(config, dict) or not config.get("ISSUER") or not config.get("AUDIENCE"):
                raise ImproperlyConfigured('AUTHPORTAL_CLIENT must be a dict with "ISSUER" and "AUDIENCE".')
            _verifier = Verifier(
                config["ISSUER"],
                config["AUDIENCE"],
                jwks_url=config.get("JWKS_URL"),
                jwks_file=config.get("JWKS_FILE"),
                leeway=config.get("LEEWAY", 30),
            )
        return _verifier


def _forget_verifier(*, setting: str, **kwargs: Any) -> None:
    global _verifier
    if setting == "AUTHPORTAL_CLIENT":
        with _lock:
            _verifier = None


setting_changed.connect(_forget_verifier)


def realm() -> str:
    return getattr(settings, "AUTHPORTAL_CLIENT", {}).get("REALM", "api")


def denial_response(denial: Denial) -> HttpResponse:
    response = HttpResponse(denial.body, status=denial.status, content_type="application/json")
    response["WWW-Authenticate"] = denial.www_authenticate
    response["Cache-Control"] = "no-store"
    return response


class BearerTokenMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.claims = None  # type: ignore[attr-defined]
        authorization = request.META.get("HTTP_AUTHORIZATION")
        if bearer_token(authorization) is not None:
            outcome = authenticate(get_verifier(), authorization, realm=realm())
            if isinstance(outcome, Denial):
                return denial_response(outcome)
            request.claims = outcome  # type: ignore[attr-defined]
        return self.get_response(request)


def scope_required(*scopes: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """401 without a verified token, 403 `insufficient_scope` without every one of `scopes`."""
    return requires(scope=scopes)


def requires(
    *, scope: str | Iterable[str] = (), via: Iterable[str] | None = None
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """401 without a verified token; 403 without every scope, or when `via` is given and the token's
    actor chain (client ids, nearest first) is not exactly `via` (`via=[]`: direct calls only)."""
    requirement = Requirement.of(scope=scope, via=via)

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            claims = getattr(request, "claims", None)
            if claims is None:
                return denial_response(unauthenticated(realm()))
            outcome = requirement.check(claims, realm=realm())
            if isinstance(outcome, Denial):
                return denial_response(outcome)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
