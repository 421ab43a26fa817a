"""Reading a compact JWS strictly, so that one token has one spelling and one meaning.

Used by the `Verifier` here and by the AuthPortal server, which verifies its own tokens when a
service exchanges one (RFC 8693): one home for both.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Container
from typing import Any, TypeGuard

from jwt.utils import base64url_decode

# Canonical base64url only (no padding, no stray or unused bits), so one token has one spelling.
_SEGMENT = r"(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?"
COMPACT_JWS = re.compile(rf"{_SEGMENT}\.{_SEGMENT}\.{_SEGMENT}")
# RFC 9068 §2.1: `typ` of an access token, compared lower-cased.
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("duplicate member")
    return members


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_strict_json = json.JSONDecoder(object_pairs_hook=_unique_members, parse_constant=_no_constants)


def json_object(segment: str) -> dict[str, Any]:
    """A base64url segment's JSON object; ValueError when it is none, has a member twice, or NaN."""
    value = _strict_json.decode(base64url_decode(segment).decode("utf-8"))
    if type(value) is not dict:
        raise ValueError("not a JSON object")
    return value


def is_number(value: Any) -> TypeGuard[float]:
    """A JSON number (not a boolean), finite."""
    return (type(value) is int or type(value) is float) and math.isfinite(value)


def access_token_header(
    encoded_header: str, *, algorithms: Container[str], max_kid_length: int
) -> tuple[str, str]:
    """The `alg` and `kid` of an RFC 9068 access token's header, read strictly; ValueError saying why not.

    `jku`, `jwk`, `x5u` and `x5c` are never read: the caller takes keys from its own JWKS only.
    """
    try:
        header = json_object(encoded_header)
    except (ValueError, RecursionError):
        raise ValueError("malformed header") from None
    typ = header.get("typ")
    if type(typ) is not str or typ.lower() not in ACCESS_TOKEN_TYPES:
        raise ValueError("not an access token (typ must be at+jwt)")
    if "crit" in header:
        raise ValueError("unsupported critical header parameters")
    algorithm, kid = header.get("alg"), header.get("kid")
    if type(algorithm) is not str or algorithm not in algorithms:
        raise ValueError("algorithm not allowed")
    if type(kid) is not str or not 0 < len(kid) <= max_kid_length:
        raise ValueError("missing or malformed kid")
    return algorithm, kid


def audiences_of(claims: dict[str, Any]) -> tuple[str, ...]:
    """The `aud` of a token's claims as a tuple (RFC 7519 §4.1.3: one string or a non-empty array of
    strings); ValueError when it is missing or anything else."""
    aud = claims.get("aud")
    if type(aud) is str:
        return (aud,)
    if type(aud) is list and aud and all(type(item) is str for item in aud):
        return tuple(aud)
    raise ValueError("missing or malformed aud")
