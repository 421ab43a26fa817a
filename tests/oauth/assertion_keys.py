"""Keys and assertions of a private_key_jwt client, made in the test and signed with PyJWT."""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.conf import settings

from clients.models import Client
from clients.services import GrantSpec, client_register

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def new_key(alg: str = "ES256") -> Any:
    if alg in ("RS256", "PS256"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(private_key: Any, *, kid: str, alg: str = "ES256") -> dict[str, Any]:
    jwk = _jwk_of(private_key.public_key())
    jwk.update(kid=kid, use="sig", alg=alg)
    return jwk


def private_jwk(private_key: Any, *, kid: str, alg: str = "ES256") -> dict[str, Any]:
    jwk = _jwk_of(private_key)
    jwk.update(kid=kid, alg=alg)
    return jwk


def _jwk_of(key: Any) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return jwt.algorithms.RSAAlgorithm.to_jwk(key, as_dict=True)
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return jwt.algorithms.OKPAlgorithm.to_jwk(key, as_dict=True)
    return jwt.algorithms.ECAlgorithm.to_jwk(key, as_dict=True)


def assertion(
    client_id: str,
    private_key: Any,
    *,
    kid: str | None = "k1",
    alg: str = "ES256",
    headers: dict | None = None,
    **claims: Any,
) -> str:
    now = int(time.time())
    body = {
        "iss": client_id,
        "sub": client_id,
        "aud": settings.AUTHPORTAL_ISSUER,
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(16),
    }
    body.update(claims)
    body = {name: value for name, value in body.items() if value is not None}
    header = {"kid": kid} if kid is not None else {}
    header.update(headers or {})
    return jwt.encode(body, private_key, algorithm=alg, headers=header)


def key_client(
    name: str, key: Any, *grants: str, kid: str = "k1", alg: str = "ES256", **options: Any
) -> Client:
    """A private_key_jwt client registered with `key`'s public half (`kid`) and grants SERVICE:SCOPE."""
    jwks = {"keys": [public_jwk(key, kid=kid, alg=alg)]}
    return client_register(
        name=name, grants=[GrantSpec.parse(g) for g in grants], jwks=jwks, **options
    ).client
