"""The request as AuthPortal's middleware leaves it (authportal/middleware.py)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class AuthPortalRequest(HttpRequest):
    """Every request that reaches a view has its id: from a sane X-Request-ID, or made for it.

    Views that read `request_id` take this type; Django passes its own request, to which the
    middleware has added the attribute.
    """

    request_id: str
    # Set by the token endpoint on a request it answered with a token: the claims it signed, so that the
    # request's metrics and log name the client and audience without reading the token back.
    token_claims: dict[str, Any]
