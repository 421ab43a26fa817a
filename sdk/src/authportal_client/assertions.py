"""private_key_jwt (RFC 7523 §2.2): a client that holds a private key instead of a secret signs a short
assertion for each token request, and `python -m authportal_client keygen` makes its key pair.

The assertion: `iss` = `sub` = the client id, `aud` = the issuer identifier (draft-ietf-oauth-rfc7523bis),
`exp` a minute ahead, a fresh `jti` every time (the portal refuses a replay), header `typ`
`client-authentication+jwt`; signed by PyJWT.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 60
# RFC 7638 §3.2: the members of each key type that its thumbprint covers.
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}


@dataclass(frozen=True)
class AssertionSigner:
    """A client's private key, with the algorithm and kid its assertions carry."""

    key: Any
    algorithm: str
    kid: str

    @classmethod
    def load(cls, private_key: str | bytes | Mapping[str, Any], *, kid: str | None = None) -> AssertionSigner:
        """From a PEM (PKCS#8 or traditional) or a private JWK (a dict or its JSON). The kid is the
        JWK's, `kid`, or else the public key's RFC 7638 thumbprint (what `keygen` registers)."""
        jwk: Mapping[str, Any] | None = None
        if isinstance(private_key, Mapping):
            jwk = private_key
        elif isinstance(private_key, str) and private_key.lstrip().startswith("{"):
            jwk = json.loads(private_key)
        if jwk is not None:
            key = jwt.PyJWK(dict(jwk)).key
            kid = kid or jwk.get("kid")
        else:
            data = private_key.encode() if isinstance(private_key, str) else private_key
            key = serialization.load_pem_private_key(data, password=None)
        if isinstance(key, rsa.RSAPrivateKey):
            algorithm = "RS256"
        elif isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
            algorithm = "ES256"
        elif isinstance(key, ed25519.Ed25519PrivateKey):
            algorithm = "EdDSA"
        else:
            raise ValueError("private_key must be a private RSA, P-256 or Ed25519 key")
        if jwk is not None and jwk.get("alg"):
            algorithm = str(jwk["alg"])
        public = public_jwk(key, kid="")
        return cls(key=key, algorithm=algorithm, kid=kid or thumbprint(public))

    def sign(
        self, *, client_id: str, audience: str, now: float | None = None, lifetime: int = ASSERTION_LIFETIME
    ) -> str:
        issued = int(time.time() if now is None else now)
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": issued,
            "exp": issued + lifetime,
            "jti": secrets.token_urlsafe(18),
        }
        headers = {"kid": self.kid, "typ": "client-authentication+jwt"}
        return jwt.encode(claims, self.key, algorithm=self.algorithm, headers=headers)

    def __repr__(self) -> str:  # never the key
        return f"AssertionSigner(algorithm={self.algorithm!r}, kid={self.kid!r})"


def public_jwk(private_key: Any, *, kid: str, algorithm: str | None = None) -> dict[str, Any]:
    public = private_key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ed25519.Ed25519PublicKey):
        jwk = jwt.algorithms.OKPAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(public, as_dict=True)
    jwk = {name: value for name, value in jwk.items() if name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    if kid:
        jwk["kid"] = kid
    if algorithm:
        jwk.update(alg=algorithm, use="sig")
    return jwk


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint, base64url: the JSON of the required members, sorted, no spaces."""
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[str(jwk["kty"])]}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class KeyPair:
    private_key_pem: str
    jwks: dict[str, Any]
    kid: str


def keygen(algorithm: str = "ES256") -> KeyPair:
    """A new key pair: the private key (PKCS#8 PEM) and the JWKS to register, its kid the thumbprint."""
    key: Any
    if algorithm == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    elif algorithm in ("RS256", "PS256"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    elif algorithm == "EdDSA":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        raise ValueError("algorithm must be ES256, RS256, PS256 or EdDSA")
    kid = thumbprint(public_jwk(key, kid=""))
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return KeyPair(
        private_key_pem=pem, jwks={"keys": [public_jwk(key, kid=kid, algorithm=algorithm)]}, kid=kid
    )
