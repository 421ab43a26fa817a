"""RFC 6749 §5.2 error responses: JSON, never cached, whatever went wrong."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import db
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

logger = logging.getLogger(__name__)

# Paths that speak the protocol: they answer JSON, never HTML, and carry no portal machinery.
PROTOCOL_PATH_PREFIXES = ("/o/", "/.well-known/")

# RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
_NOT_ALLOWED_IN_DESCRIPTION = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")


class OAuthError(Exception):
    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int = 400,
        reason: str | None = None,
        allow: tuple[str, ...] = (),
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        # What the audit log records; may say more than we tell the client (e.g. "wrong client secret").
        self.reason = reason or description
        self.allow = allow  # the methods a 405 names in its Allow header
        # What the refusal's audit row adds to error and reason (what was known of the request).
        self.audit_details: dict[str, Any] = {}

    def without(self, secret: str) -> OAuthError:
        """This refusal with `secret` taken out of what it tells the client and the audit log: refusals
        echo the scopes and resources asked for, where a caller may have put its secret."""
        if not secret or (secret not in self.description and secret not in self.reason):
            return self
        return OAuthError(
            self.error,
            self.description.replace(secret, "[client_secret]"),
            status=self.status,
            reason=self.reason.replace(secret, "[client_secret]"),
            allow=self.allow,
        )


def invalid_request(description: str, *, status: int = 400) -> OAuthError:
    return OAuthError("invalid_request", description, status=status)


def invalid_client(reason: str) -> OAuthError:
    return OAuthError("invalid_client", "Client authentication failed.", status=401, reason=reason)


def invalid_scope(description: str) -> OAuthError:
    return OAuthError("invalid_scope", description)


def invalid_target(description: str) -> OAuthError:
    return OAuthError("invalid_target", description)


def temporarily_unavailable() -> OAuthError:
    """The one answer when the database (any `django.db.Error`: InterfaceError is not a DatabaseError)
    or the signing key cannot be reached in time: 503 with Retry-After, so that clients retry."""
    return OAuthError(
        "temporarily_unavailable", "The server cannot answer right now; retry shortly.", status=503
    )


def method_check(request: HttpRequest, *, allowed: tuple[str, ...]) -> None:
    """The one answer to a wrong method on a protocol URL: 405, naming the methods it serves.

    Methods are case-sensitive (RFC 9110 §9.1) and Django upper-cases `request.method`, so the method
    is read as it was sent: `post` is an unknown method, not POST.
    """
    if request.META.get("REQUEST_METHOD") not in allowed:
        raise OAuthError(
            "invalid_request",
            f"This endpoint accepts {' and '.join(allowed)} only.",
            status=405,
            allow=allowed,
        )


def protocol_endpoint(
    *, methods: tuple[str, ...]
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A view on a protocol URL that keeps no record of refusals: any other method gets the JSON 405,
    a database that fails or does not answer in time the JSON 503, and no CSRF check, since protocol
    endpoints use no cookies (a CSRF failure would be HTML)."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                method_check(request, allowed=methods)
            except OAuthError as error:
                return oauth_error_response(error)
            try:
                return view(request, *args, **kwargs)
            except db.Error:
                logger.exception("%s failed: the database is unavailable", request.path)
                return oauth_error_response(temporarily_unavailable())

        return csrf_exempt(checked)

    return decorate


def json_no_store(payload: dict[str, Any], *, status: int = 200) -> HttpResponse:
    response = HttpResponse(json.dumps(payload), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def oauth_error_response(error: OAuthError) -> HttpResponse:
    description = _NOT_ALLOWED_IN_DESCRIPTION.sub("?", error.description)
    response = json_no_store({"error": error.error, "error_description": description}, status=error.status)
    if error.status == 401:
        response["WWW-Authenticate"] = 'Basic realm="authportal"'
    if error.allow:
        response["Allow"] = ", ".join(error.allow)
    if error.status == 503:
        response["Retry-After"] = "1"
    return response
