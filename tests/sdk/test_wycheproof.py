"""Google's Wycheproof vectors through the Verifier's own key loading and signature check.

A JWS signing input is arbitrary bytes to the signature algorithm, so each vector's `msg` stands
for one; the key goes through `key_from_jwk`, exactly as a key from our JWKS would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from authportal_client.keys import VerificationKey, key_from_jwk
from jwt.utils import base64url_encode

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "wycheproof"
FILES = {
    "RS256": "rsa_signature_2048_sha256_test.json",
    "PS256": "rsa_pss_2048_sha256_mgf1_32_test.json",
    "ES256": "ecdsa_secp256r1_sha256_p1363_test.json",
    "EdDSA": "ed25519_test.json",
}


def group_jwk(group: dict, algorithm: str) -> dict:
    jwk = group.get("publicKeyJwk") or group.get("keyJwk")
    public = group["publicKey"]
    if jwk is None and "wx" in public:  # EC groups without a JWK: build it from the coordinates
        jwk = {"kty": "EC", "crv": "P-256", "x": coordinate(public["wx"]), "y": coordinate(public["wy"])}
    if jwk is None:  # RSA groups without a JWK: build it from the modulus and exponent
        jwk = {
            "kty": "RSA",
            "n": base64url_encode(bytes.fromhex(public["modulus"]).lstrip(b"\0")).decode(),
            "e": base64url_encode(bytes.fromhex(public["publicExponent"]).lstrip(b"\0")).decode(),
        }
    return {**jwk, "alg": algorithm, "kid": "wycheproof"}


def coordinate(hex_value: str) -> str:
    return base64url_encode(int(hex_value, 16).to_bytes(32, "big")).decode()


def outcomes(algorithm: str) -> dict[str, list]:
    path = VECTORS / FILES[algorithm]
    if not path.exists():
        pytest.skip(f"Wycheproof vectors missing at {VECTORS}")
    seen: dict[str, list] = {"accepted_invalid": [], "rejected_valid": [], "keys_refused": [], "checked": []}
    for group in json.loads(path.read_text())["testGroups"]:
        try:
            key: VerificationKey = key_from_jwk(group_jwk(group, algorithm))
        except ValueError as error:
            seen["keys_refused"].append(str(error))  # a key we refuse verifies nothing: nothing accepted
            continue
        for case in group["tests"]:
            accepted = key.verify_signature(bytes.fromhex(case["msg"]), bytes.fromhex(case["sig"]))
            seen["checked"].append(case["tcId"])
            if accepted and case["result"] == "invalid":
                seen["accepted_invalid"].append((case["tcId"], case["comment"]))
            if not accepted and case["result"] == "valid":
                seen["rejected_valid"].append((case["tcId"], case["comment"]))
    return seen


@pytest.mark.parametrize("algorithm", list(FILES))
def test_no_invalid_wycheproof_signature_is_accepted(algorithm):
    seen = outcomes(algorithm)
    assert len(seen["checked"]) > 100
    assert seen["accepted_invalid"] == []


@pytest.mark.parametrize("algorithm", list(FILES))
def test_every_valid_wycheproof_signature_is_accepted(algorithm):
    seen = outcomes(algorithm)
    assert seen["rejected_valid"] == []
    assert seen["keys_refused"] == []
