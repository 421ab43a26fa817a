"""Keys and tokens made here, outside the portal, to prove the Verifier on inputs we control."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from authportal_client import Verifier
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.utils import base64url_encode

ISSUER = "https://auth.example.com"
AUDIENCE = "https://doctors.internal"
NOW = 1_800_000_000.0


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private: Any

    @property
    def public_jwk(self) -> dict[str, Any]:
        jwk = json.loads(jwt.get_algorithm_by_name(self.algorithm).to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def sign(self, header: dict | bytes, payload: dict | bytes) -> str:
        """A compact JWS over exactly these header and payload bytes (dicts are JSON-encoded)."""
        encoded = [
            base64url_encode(part if isinstance(part, bytes) else json.dumps(part).encode())
            for part in (header, payload)
        ]
        signing_input = b".".join(encoded)
        signature = jwt.get_algorithm_by_name(self.algorithm).sign(signing_input, self.private)
        return (signing_input + b"." + base64url_encode(signature)).decode()


def good_claims(**changes: Any) -> dict[str, Any]:
    claims = {
        "iss": ISSUER,
        "sub": "client-1",
        "aud": AUDIENCE,
        "iat": int(NOW),
        "exp": int(NOW) + 600,
        "jti": "jti-1",
        "client_id": "client-1",
        "scope": "doctors:read",
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def header_for(key: SigningKey, **changes: Any) -> dict[str, Any]:
    header = {"alg": key.algorithm, "kid": key.kid, "typ": "at+jwt", **changes}
    return {name: value for name, value in header.items() if value is not None}


@pytest.fixture(scope="session")
def signing_keys() -> dict[str, SigningKey]:
    return {
        "RS256": SigningKey("rsa-1", "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "PS256": SigningKey("pss-1", "PS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "ES256": SigningKey("ec-1", "ES256", ec.generate_private_key(ec.SECP256R1())),
        "EdDSA": SigningKey("ed-1", "EdDSA", ed25519.Ed25519PrivateKey.generate()),
    }


@pytest.fixture(scope="session")
def attacker_key() -> SigningKey:
    return SigningKey("rsa-1", "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


class Clock:
    def __init__(self, now: float = NOW):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def jwks_file(tmp_path: Path, signing_keys: dict[str, SigningKey]) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [key.public_jwk for key in signing_keys.values()]}))
    return path


@pytest.fixture
def verifier(jwks_file: Path) -> Verifier:
    return Verifier(ISSUER, AUDIENCE, jwks_file=jwks_file, clock=Clock())


@pytest.fixture
def mint(signing_keys: dict[str, SigningKey]) -> Callable[..., str]:
    """mint(alg="RS256", header={...changes}, **claim changes): a token signed by one of our keys."""

    def make(alg: str = "RS256", header: dict[str, Any] | None = None, **claims: Any) -> str:
        key = signing_keys[alg]
        return key.sign(header_for(key, **(header or {})), good_claims(**claims))

    return make


def wall_clock_offset(seconds: float) -> Callable[[], float]:
    return lambda: time.time() + seconds
