"""Reading a compact JWS strictly, so that one token has one spelling and one meaning.

Used by the `Verifier` here and by the AuthPortal server, which verifies its own tokens when a
service exchanges one (RFC 8693): one home for both.
"""

from __future__ import annotations

import json
import math
import re
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
