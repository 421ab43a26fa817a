"""OpenAPI for the API (drf-spectacular): how callers authenticate, and the problem details every
operation may answer."""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from api.problems import PROBLEM_CONTENT_TYPE

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                "required": ["field", "message"],
            },
        },
    },
    "required": ["type", "title", "status", "detail"],
}
ERRORS = {
    "400": "The request is not valid (each field's problem in `errors`)",
    "401": "No credentials, or a token refused",
    "403": "The caller's role or scopes do not allow it (or a missing CSRF token with a session)",
    "404": "No such object",
    "405": "Method not allowed",
    "406": "Not acceptable",
    "409": "Changed meanwhile: nothing was done",
    "415": "The body is not JSON",
    "429": "Too many requests: see Retry-After",
}


class ProblemAutoSchema(AutoSchema):
    """Every operation documents its problem responses beside its success."""

    def _get_response_bodies(self, direction: Literal["request", "response"] = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for code, description in ERRORS.items():
            responses.setdefault(
                code,
                {"description": description, "content": {PROBLEM_CONTENT_TYPE: {"schema": PROBLEM_SCHEMA}}},
            )
        return responses


BEARER_TOKEN = (
    "An access token of ours for the audience ISSUER/api (client_credentials), "
    "with admin:read, admin:write or audit:read"
)
PORTAL_SESSION = "A portal sign-in; unsafe methods also need the X-CSRFToken header"

# How the API's two ways in appear in the OpenAPI document, by scheme name.
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "bearerToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": BEARER_TOKEN},
    "portalSession": {"type": "apiKey", "in": "cookie", "name": "sessionid", "description": PORTAL_SESSION},
}


class _DeclaredScheme(OpenApiAuthenticationExtension):
    """An authentication class's scheme in SECURITY_SCHEMES (no target here: this one matches none)."""

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return SECURITY_SCHEMES[str(self.name)]


class BearerTokenScheme(_DeclaredScheme):
    target_class = "api.authentication.ApiTokenAuthentication"
    name = "bearerToken"


class PortalSessionScheme(_DeclaredScheme):
    target_class = "api.authentication.PortalSessionAuthentication"
    name = "portalSession"
