"""Every exception the library raises on purpose."""

from __future__ import annotations


class InvalidToken(Exception):
    """The token must not be trusted. The message is fixed text, safe to show a caller and to log:
    it never echoes the token's bytes."""


class KeysUnavailable(InvalidToken):
    """No signing keys could be loaded yet (the JWKS was never reachable), so no token verifies."""


class TokenRequestError(Exception):
    """The authorization server refused a token request (RFC 6749 §5.2), or could not be reached."""

    def __init__(self, message: str, *, error: str = "", description: str = "", status: int | None = None):
        super().__init__(message)
        self.error = error
        self.description = description
        self.status = status


class InvalidClient(TokenRequestError):
    """`invalid_client`: the client id or secret is wrong, or the client is disabled."""


class InvalidScope(TokenRequestError):
    """`invalid_scope`: a scope this client is not granted, or unknown."""


class InvalidTarget(TokenRequestError):
    """`invalid_target`: a resource (audience) this client is not granted, or unknown."""


class AuthorizationServerUnavailable(TokenRequestError):
    """The token endpoint kept failing (network errors, 5xx, 429) after every retry."""
