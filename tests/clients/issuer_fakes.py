"""An outside issuer of user tokens, for the trusted-issuer tests: keys made in the test, tokens minted
with PyJWT, and a JWKS served on loopback (ports 18700–18799) that can fail, redirect or grow."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.servers import http_serving

ISSUER = "https://idp.example.com"
AUDIENCE = "https://gateway.internal"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(private_key: Any, *, kid: str, alg: str | None = None) -> dict[str, Any]:
    algorithm = (
        jwt.algorithms.RSAAlgorithm
        if isinstance(private_key, rsa.RSAPrivateKey)
        else jwt.algorithms.ECAlgorithm
    )
    jwk = algorithm.to_jwk(private_key.public_key(), as_dict=True)
    jwk.update(kid=kid, use="sig")
    if alg:
        jwk["alg"] = alg
    return jwk


def claims_at(now: datetime, **overrides: Any) -> dict[str, Any]:
    at = int(now.timestamp())
    claims = {"iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "iat": at, "exp": at + 300}
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def mint(claims: dict[str, Any], private_key: Any, *, kid: str | None = "k1", alg: str = "RS256") -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims, private_key, algorithm=alg, headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A compact JWS assembled by hand, for tokens no library would sign (alg none, HMAC with a PEM)."""
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(signature)])


class FakeIssuer:
    def __init__(self) -> None:
        self.url = ""
        self.jwks: dict[str, Any] = {"keys": []}
        self.status = 200
        self.headers = {"Cache-Control": "public, max-age=300", "ETag": '"v1"'}
        self.redirect_to: str | None = None
        self.padding = 0  # extra bytes of JSON whitespace, to make the JWKS too large
        self.paths: list[str] = []

    def fetches(self) -> int:
        return self.paths.count("/jwks.json")


def _handler(issuer: FakeIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            issuer.paths.append(self.path)
            if self.path == "/jwks.json" and issuer.redirect_to:
                self.send_response(302)
                self.send_header("Location", issuer.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path == "/jwks.json" and issuer.status != 200:
                status, body = issuer.status, b'{"error": "down"}'
            elif (
                self.path == "/jwks.json"
                and self.headers.get("If-None-Match") is not None
                and (self.headers.get("If-None-Match") == issuer.headers.get("ETag"))
            ):
                status, body = 304, b""
            elif self.path == "/jwks.json":
                status, body = 200, json.dumps(issuer.jwks).encode() + b" " * issuer.padding
            elif self.path == "/elsewhere.json":  # where a redirect points: a good JWKS
                status, body = 200, json.dumps(issuer.jwks).encode()
            else:
                status, body = 404, b"{}"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in issuer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def serving(issuer: FakeIssuer) -> Iterator[FakeIssuer]:
    with http_serving(_handler(issuer), ports=range(18700, 18800)) as url:
        issuer.url = url
        yield issuer
