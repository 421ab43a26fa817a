"""Reading one of our own access tokens back, for the endpoints a client sends it to (RFC 7009
revocation, RFC 7662 introspection): verified against the keys we publish now, by PyJWT."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jwt

from core.conf import app_settings
from keys.selectors import signing_key_published

TOKEN_MAX_LENGTH = 8192
_ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})


class NotOurToken(Exception):
    """Not an access token of ours that verifies now; `reason` says why (for the audit row)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def access_token_read(*, token: str, now: datetime) -> dict[str, Any]:
    """The claims of `token` when it is an RFC 9068 access token we signed, with a key still published
    (a revoked key's tokens are not ours any more), our `iss`, and not expired; else NotOurToken."""
    if not 0 < len(token) <= TOKEN_MAX_LENGTH or token.count(".") != 2:
        raise NotOurToken("malformed")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise NotOurToken("malformed") from None
    typ, kid = header.get("typ"), header.get("kid")
    if not isinstance(typ, str) or typ.lower() not in _ACCESS_TOKEN_TYPES:
        raise NotOurToken("not an access token")
    if not isinstance(kid, str) or not 0 < len(kid) <= 256 or not kid.isprintable():
        raise NotOurToken("unknown key")
    key = signing_key_published(kid=kid, now=now)
    if key is None or header.get("alg") != key.algorithm:
        raise NotOurToken("unknown key")
    try:
        claims = jwt.decode(
            token,
            jwt.PyJWK(key.public_jwk, key.algorithm).key,
            algorithms=[key.algorithm],
            issuer=app_settings.ISSUER,
            options={
                "verify_aud": False,
                "verify_exp": False,
                "require": ["iss", "exp", "iat", "jti", "client_id"],
            },
        )
    except jwt.InvalidSignatureError:
        raise NotOurToken("bad signature") from None
    except jwt.PyJWTError:
        raise NotOurToken("malformed") from None
    if not isinstance(claims["exp"], int) or claims["exp"] <= now.timestamp():
        raise NotOurToken("expired")
    if not isinstance(claims["jti"], str) or not isinstance(claims["client_id"], str):
        raise NotOurToken("malformed")
    return claims
