"""The one `curl` line that asks our token endpoint for a token, as `seed_demo` prints it and the
portal shows it beside a new secret: the fastest proof that the credentials work."""

from __future__ import annotations

import shlex


def token_request_curl(*, issuer: str, client_id: str, client_secret: str, resource: str | None) -> str:
    """`curl` with client_secret_basic and, when known, the audience (RFC 8707 `resource`)."""
    words = ["curl", "-s", "-u", f"{client_id}:{client_secret}", "-d", "grant_type=client_credentials"]
    if resource:
        words += ["-d", f"resource={resource}"]
    words.append(f"{issuer}/o/token")
    return shlex.join(words)
