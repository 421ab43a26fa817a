"""Our tokens verified by other languages' libraries: node `jose` and PHP's openssl (tests/interop/)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

INTEROP = Path(__file__).resolve().parent.parent / "interop"


def jose_verify(live_issuer: str, audience: str, token: str) -> dict[str, Any]:
    """What node `jose` says of `token`, discovering the JWKS from our metadata (skips without node)."""
    if not shutil.which("node") or not (INTEROP / "node_modules" / "jose").is_dir():
        pytest.skip("node or the jose package is missing: run `make test` (npm install in tests/interop)")
    metadata = f"{live_issuer}/.well-known/oauth-authorization-server"
    result = _run(["node", "verify_jose.mjs", metadata, audience, token])
    return json.loads(result.stdout)


def php_verify(
    public_key_file: str, token: str, live_issuer: str, audience: str
) -> subprocess.CompletedProcess[str]:
    """PHP's openssl checking `token` with the published PEM, as a Laravel-style service would."""
    if not shutil.which("php"):
        pytest.skip("php is not installed: `make test` installs Debian's php-cli when it runs as root")
    return _run(["php", "verify_openssl.php", public_key_file, token, live_issuer, audience])


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=INTEROP, capture_output=True, text=True, timeout=30)
