"""AuthPortal's client library: `TokenClient` for services that call, `Verifier` for services called."""

from __future__ import annotations

from authportal_client.claims import Claims
from authportal_client.errors import (
    AuthorizationServerUnavailable,
    InvalidClient,
    InvalidScope,
    InvalidTarget,
    InvalidToken,
    KeysUnavailable,
    TokenRequestError,
)
from authportal_client.token_client import JWT_TOKEN_TYPE, TokenClient
from authportal_client.verifier import Verifier

__all__ = [
    "AuthorizationServerUnavailable",
    "Claims",
    "InvalidClient",
    "InvalidScope",
    "InvalidTarget",
    "InvalidToken",
    "JWT_TOKEN_TYPE",
    "KeysUnavailable",
    "TokenClient",
    "TokenRequestError",
    "Verifier",
]
