from __future__ import annotations

import hashlib
import json
from datetime import datetime

from keys.models import SigningKey


def jwks_build(*, now: datetime) -> dict[str, list[dict]]:
    """The public JWKS: every staged, active and retired key that has not expired."""
    keys = SigningKey.objects.filter(state__in=SigningKey.PUBLISHED_STATES).order_by("created_at", "kid")
    return {"keys": [key.public_jwk for key in keys if key.is_publishable(now)]}


def jwks_serialize(jwks: dict) -> tuple[bytes, str]:
    """The document's bytes and a strong ETag for them."""
    body = json.dumps(jwks, separators=(",", ":"), sort_keys=True).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
