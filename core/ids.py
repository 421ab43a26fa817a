"""Random identifiers we hand out that people copy into commands: a token's `jti`, a delegation's `txn`."""

from __future__ import annotations

import secrets


def random_id(nbytes: int) -> str:
    """`secrets.token_urlsafe(nbytes)` that never starts with "-", so that it can follow an option on a
    command line (`revoke_tokens --jti JTI`, `export_audit --txn TXN`) without being read as one; it
    costs the first character one of its 64 values."""
    while True:
        value = secrets.token_urlsafe(nbytes)
        if not value.startswith("-"):
            return value
