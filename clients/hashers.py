"""Client secrets: 256 random bits, stored as a salted SHA-256.

A client secret is a random key, not a password a person chose: nothing can be guessed, so a slow
password hash (Django's PBKDF2 costs ~240 ms here) buys no safety and would cap the token endpoint
at a handful of requests a second. One salted SHA-256 round keeps a stolen database row useless.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING, Any

from django.contrib.auth.hashers import BasePasswordHasher, mask_hash
from django.utils.crypto import constant_time_compare

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

SECRET_BYTES = 32


def generate_client_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


class ClientSecretGenerator:
    """django-oauth-toolkit's CLIENT_SECRET_GENERATOR_CLASS hook."""

    def hash(self) -> str:
        return generate_client_secret()


class ClientSecretHasher(BasePasswordHasher):
    algorithm = "client_secret_sha256"

    def salt(self) -> str:
        return secrets.token_hex(16)

    def encode(self, password: str, salt: str) -> str:
        # What Django's own hashers check (BasePasswordHasher._check_encode_args, not in its stubs).
        if password is None:
            raise TypeError("password must be provided.")
        if not salt or "$" in salt:
            raise ValueError("salt must be provided and cannot contain $.")
        digest = hashlib.sha256(f"{salt}${password}".encode()).hexdigest()
        return f"{self.algorithm}${salt}${digest}"

    def decode(self, encoded: str) -> dict[str, str]:
        algorithm, salt, digest = encoded.split("$", 2)
        assert algorithm == self.algorithm
        return {"algorithm": algorithm, "hash": digest, "salt": salt}

    def verify(self, password: str, encoded: str) -> bool:
        decoded = self.decode(encoded)
        return constant_time_compare(encoded, self.encode(password, decoded["salt"]))

    def safe_summary(self, encoded: str) -> dict[str | StrPromise, Any]:
        decoded = self.decode(encoded)
        return {
            "algorithm": decoded["algorithm"],
            "salt": mask_hash(decoded["salt"]),
            "hash": mask_hash(decoded["hash"]),
        }

    def harden_runtime(self, password: str, encoded: str) -> None:
        pass


_HASHER = ClientSecretHasher()
# Checked against when the client id is unknown, so that an unknown id costs what a wrong secret costs.
_DECOY_ENCODED = _HASHER.encode(generate_client_secret(), _HASHER.salt())


def client_secret_matches(secret: str, encoded: str | None) -> bool:
    """Constant-time check of a presented secret; `encoded=None` (no such client) still does the work."""
    if encoded is None or not encoded.startswith(f"{_HASHER.algorithm}$"):
        _HASHER.verify(secret, _DECOY_ENCODED)
        return False
    return _HASHER.verify(secret, encoded)
