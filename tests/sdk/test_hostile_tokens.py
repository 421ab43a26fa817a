"""The hostile corpus: every token here must raise InvalidToken, and nothing else, quickly."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
import time

import pytest
from authportal_client import InvalidToken
from cryptography.hazmat.primitives import serialization
from jwt.utils import base64url_encode

from tests.sdk.conftest import AUDIENCE, ISSUER, NOW, good_claims, header_for


def b64(value: dict | bytes | str) -> str:
    if isinstance(value, dict):
        value = json.dumps(value)
    if isinstance(value, str):
        value = value.encode()
    return base64url_encode(value).decode()


class Corpus:
    """Builds each hostile token from our keys (rsa, es) and an attacker's RSA key."""

    def __init__(self, keys, attacker):
        self.rsa, self.es, self.attacker = keys["RS256"], keys["ES256"], attacker
        self.claims = good_claims()
        self.es_token = self.es.sign(header_for(self.es), self.claims)

    def signed(self, header_changes=None, **claim_changes) -> str:
        return self.rsa.sign(header_for(self.rsa, **(header_changes or {})), good_claims(**claim_changes))

    def raw_claims(self, old: str, new: str) -> str:
        return self.rsa.sign(header_for(self.rsa), json.dumps(self.claims).replace(old, new, 1).encode())

    def by_attacker(self, **header_changes) -> str:
        return self.attacker.sign(header_for(self.attacker, **header_changes), self.claims)

    def es_signature(self, signature: bytes) -> str:
        return self.es_token.rsplit(".", 1)[0] + "." + b64(signature)

    def unsigned(self) -> str:
        return f"{b64({'alg': 'none', 'kid': self.rsa.kid, 'typ': 'at+jwt'})}.{b64(self.claims)}"

    def hs256_with_public_key(self) -> str:
        pem = self.rsa.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        signing_input = f"{b64({'alg': 'HS256', 'kid': self.rsa.kid, 'typ': 'at+jwt'})}.{b64(self.claims)}"
        return signing_input + "." + b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())


EXP = f'"exp": {int(NOW) + 600}'
GROUP_ORDER = bytes.fromhex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")

HOSTILE = {
    "alg none, empty signature": ("algorithm not allowed", lambda c: c.unsigned() + "."),
    "alg none, some signature": ("algorithm not allowed", lambda c: c.unsigned() + ".AAAA"),
    "RS256 public key as HS256 secret": ("algorithm not allowed", lambda c: c.hs256_with_public_key()),
    "kid path traversal": ("unknown key", lambda c: c.by_attacker(kid="../../../../etc/passwd")),
    "kid SQL": ("unknown key", lambda c: c.by_attacker(kid="x' UNION SELECT 'secret' --")),
    "kid not a string": ("missing or malformed kid", lambda c: c.signed({"kid": ["rsa-1"]})),
    "jku to the attacker's keys": (
        "unknown key",
        lambda c: c.by_attacker(kid="evil", jku="https://evil.example/jwks.json"),
    ),
    "jwk embedded": ("unknown key", lambda c: c.by_attacker(kid="evil", jwk=c.attacker.public_jwk)),
    "x5u to the attacker's certificate": (
        "bad signature",
        lambda c: c.by_attacker(x5u="https://evil.example/cert.pem"),
    ),
    "x5c embedded": ("bad signature", lambda c: c.by_attacker(x5c=["MIIBszCCAVmgAwIBAgIUE"])),
    "our kid, the attacker's signature": ("bad signature", lambda c: c.by_attacker(kid=c.rsa.kid)),
    "unknown crit": (
        "unsupported critical header parameters",
        lambda c: c.signed({"crit": ["urn:example:unknown"], "urn:example:unknown": 1}),
    ),
    "crit naming exp": ("unsupported critical header parameters", lambda c: c.signed({"crit": ["exp"]})),
    "ECDSA signature one byte short": ("bad signature", lambda c: c.es_signature(b"\x01" * 63)),
    "ECDSA signature one byte long": ("bad signature", lambda c: c.es_signature(b"\x01" * 65)),
    "ECDSA r=s=0": ("bad signature", lambda c: c.es_signature(b"\x00" * 64)),
    "ECDSA r=s=n (the group order)": ("bad signature", lambda c: c.es_signature(GROUP_ORDER * 2)),
    "ECDSA DER instead of P1363": (
        "bad signature",
        lambda c: c.es_signature(bytes.fromhex("3006020101020101")),
    ),
    "expired": ("expired", lambda c: c.signed(iat=int(NOW) - 700, exp=int(NOW) - 100)),
    "not yet valid (nbf)": ("not yet valid", lambda c: c.signed(nbf=int(NOW) + 300)),
    "issued in the future": (
        "issued in the future",
        lambda c: c.signed(iat=int(NOW) + 300, exp=int(NOW) + 900),
    ),
    "far-future exp": ("lifetime longer than allowed", lambda c: c.signed(exp=int(NOW) + 10 * 365 * 86400)),
    "exp of 1e400 (infinity)": (
        "missing or malformed exp or iat",
        lambda c: c.raw_claims(EXP, '"exp": 1e400'),
    ),
    "exp NaN": ("malformed claims", lambda c: c.raw_claims(EXP, '"exp": NaN')),
    "wrong iss": ("wrong issuer", lambda c: c.signed(iss="https://evil.example")),
    "iss with a trailing slash": ("wrong issuer", lambda c: c.signed(iss=ISSUER + "/")),
    "no iss": (
        "wrong issuer",
        lambda c: c.rsa.sign(header_for(c.rsa), {k: v for k, v in c.claims.items() if k != "iss"}),
    ),
    "wrong aud": ("wrong audience", lambda c: c.signed(aud="https://college.internal")),
    "aud list without ours": ("wrong audience", lambda c: c.signed(aud=["https://college.internal"])),
    "aud empty list": ("missing or malformed aud", lambda c: c.signed(aud=[])),
    "aud as an object": ("missing or malformed aud", lambda c: c.signed(aud={AUDIENCE: True})),
    "aud a prefix of ours": ("wrong audience", lambda c: c.signed(aud=AUDIENCE + ".evil")),
    "typ JWT (an ID token)": ("not an access token (typ must be at+jwt)", lambda c: c.signed({"typ": "JWT"})),
    "no typ": (
        "not an access token (typ must be at+jwt)",
        lambda c: c.rsa.sign({"alg": "RS256", "kid": c.rsa.kid}, c.claims),
    ),
    "alg PS256 on an RS256 key": ("algorithm does not match the key", lambda c: c.signed({"alg": "PS256"})),
    "string exp": ("missing or malformed exp or iat", lambda c: c.signed(exp=str(int(NOW) + 600))),
    "boolean iat": ("missing or malformed exp or iat", lambda c: c.signed(iat=True)),
    "no client_id": ("missing client_id or sub", lambda c: c.signed(client_id=None)),
    "scope as a list": ("malformed scope", lambda c: c.signed(scope=["doctors:read"])),
    "duplicate aud claim": (
        "malformed claims",
        lambda c: c.raw_claims(EXP, f'"aud": "https://evil.example", {EXP}'),
    ),
    "duplicate scope claim": (
        "malformed claims",
        lambda c: c.raw_claims(EXP, f'"scope": "doctors:write", {EXP}'),
    ),
    "duplicate alg header": (
        "malformed header",
        lambda c: c.rsa.sign(b'{"alg":"RS256","kid":"rsa-1","typ":"at+jwt","alg":"none"}', c.claims),
    ),
    "payload not an object": ("malformed claims", lambda c: c.rsa.sign(header_for(c.rsa), b'["iss"]')),
    "payload not UTF-8": ("malformed claims", lambda c: c.rsa.sign(header_for(c.rsa), b'{"iss": "\xff"}')),
    "deeply nested payload": (
        "malformed claims",
        lambda c: c.rsa.sign(header_for(c.rsa), b'{"iss": ' + b"[" * 2000 + b"]" * 2000 + b"}"),
    ),
    "deeply nested header": (
        "malformed header",
        lambda c: f"{b64('[' * 2000 + ']' * 2000)}.{b64(c.claims)}.AAAA",
    ),
    "20 MB token": (
        "the token is too large",
        lambda c: "eyJ" + "A" * (20 * 1024 * 1024) + "." + b64(c.claims) + ".AAAA",
    ),
    "a million dots": ("the token is too large", lambda c: "." * 1_000_000),
    "JWE (five parts)": (
        "not a JWS in compact form",
        lambda c: ".".join(
            [
                b64({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": c.rsa.kid, "typ": "at+jwt"}),
                "AAAA",
                "AAAA",
                "AAAA",
                "AAAA",
            ]
        ),
    ),
    "JWS JSON serialization": (
        "not a JWS in compact form",
        lambda c: json.dumps({"payload": b64(c.claims), "signatures": []}),
    ),
    "padded base64": ("not a JWS in compact form", lambda c: c.es_token + "=="),
    "unused base64 bits set": (
        "not a JWS in compact form",
        lambda c: c.es_token[:-1] + chr(ord(c.es_token[-1]) ^ 1),
    ),
    "standard base64 alphabet": ("not a JWS in compact form", lambda c: c.es_token.replace(".", "+", 1)),
    "whitespace inside": ("not a JWS in compact form", lambda c: c.es_token[:10] + " " + c.es_token[10:]),
    "Bearer prefix left on": ("not a JWS in compact form", lambda c: "Bearer " + c.es_token),
    "empty": ("not a JWS in compact form", lambda c: ""),
    "non-ASCII": ("not a JWS in compact form", lambda c: "é.é.é"),
    "non-ASCII bytes": ("malformed token", lambda c: b"\xff\xfe.\x00.\x01"),
    "None": ("the token is not text", lambda c: None),
    "a number": ("the token is not text", lambda c: 12345),
    "a dict": ("the token is not text", lambda c: {"token": "a.b.c"}),
}


@pytest.fixture(scope="module")
def corpus(signing_keys, attacker_key) -> Corpus:
    return Corpus(signing_keys, attacker_key)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_every_hostile_token_raises_invalid_token_and_nothing_else(verifier, corpus, name):
    reason, build = HOSTILE[name]
    token = build(corpus)
    started = time.perf_counter()
    with pytest.raises(InvalidToken, match=re.escape(reason)):
        verifier.verify(token)
    assert time.perf_counter() - started < 0.5


def test_a_jku_header_causes_no_fetch(verifier, corpus, monkeypatch):
    import authportal_client._http as http

    monkeypatch.setattr(http, "request", lambda *a, **k: pytest.fail("a token made us fetch a URL"))
    with pytest.raises(InvalidToken):
        verifier.verify(HOSTILE["jku to the attacker's keys"][1](corpus))


def test_our_own_key_named_in_jku_or_jwk_is_still_only_our_jwks_key(verifier, signing_keys):
    # jku/jwk/x5u are ignored, not trusted: a token we signed verifies with our key whatever they say.
    rsa = signing_keys["RS256"]
    token = rsa.sign(header_for(rsa, jku="https://evil.example/jwks.json", jwk={"kty": "oct"}), good_claims())
    assert verifier.verify(token).client_id == "client-1"


def test_every_single_character_change_to_a_good_token_is_refused(verifier, mint):
    token = mint("ES256")
    verifier.verify(token)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ "
    rng = random.Random(6)
    for position in range(len(token)):
        replacement = rng.choice([c for c in alphabet if c != token[position]])
        with pytest.raises(InvalidToken):
            verifier.verify(token[:position] + replacement + token[position + 1 :])


def test_random_bytes_raise_only_invalid_token(verifier, mint):
    rng = random.Random(9068)
    good = mint("RS256").encode()
    for _ in range(3000):
        length = rng.randrange(0, 2 * len(good))
        if rng.random() < 0.5:
            candidate = bytes(rng.randrange(256) for _ in range(length))
        else:
            candidate = bytearray(good)
            for position in rng.sample(range(len(candidate)), rng.randrange(1, 8)):
                candidate[position] = (candidate[position] + rng.randrange(1, 256)) % 256  # always a change
            candidate = bytes(candidate)
        with pytest.raises(InvalidToken):
            verifier.verify(candidate)


def test_audience_and_issuer_are_exact_not_prefixes(verifier, signing_keys):
    rsa = signing_keys["RS256"]
    for claims in (
        good_claims(aud=AUDIENCE + ".evil"),
        good_claims(aud=AUDIENCE.upper()),
        good_claims(iss=ISSUER.upper()),
    ):
        with pytest.raises(InvalidToken):
            verifier.verify(rsa.sign(header_for(rsa), claims))
