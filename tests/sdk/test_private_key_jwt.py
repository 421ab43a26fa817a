"""The SDK's private_key_jwt: `python -m authportal_client keygen` makes a key pair, the portal
registers its JWKS, and `TokenClient(issuer, client_id, private_key=...)` gets tokens with no secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from authportal_client import InvalidClient, TokenClient, Verifier
from authportal_client.assertions import AssertionSigner, keygen

from audit.models import AuditEvent
from clients.services import GrantSpec, client_register

DOCTORS = "https://doctors.internal"
SDK_SRC = Path(__file__).resolve().parents[2] / "sdk" / "src"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def issuer(live_server, settings) -> str:
    settings.AUTHPORTAL_ISSUER = live_server.url
    return live_server.url


def run_keygen(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SDK_SRC)}
    return subprocess.run(
        [sys.executable, "-m", "authportal_client", "keygen", *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    )


def test_keygen_prints_a_private_key_and_the_jwks_to_register_with_its_thumbprint_as_kid(tmp_path):
    printed = run_keygen().stdout
    pem = printed[
        printed.index("-----BEGIN PRIVATE KEY-----") : printed.index("-----END PRIVATE KEY-----") + 25
    ]
    jwks = json.loads(printed[printed.index("{") :])
    (jwk,) = jwks["keys"]
    assert not {"d", "p", "q"} & set(jwk)
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("EC", "P-256", "ES256")
    assert AssertionSigner.load(pem).kid == jwk["kid"]
    run_keygen(
        "--alg",
        "EdDSA",
        "--private-key-out",
        str(tmp_path / "key.pem"),
        "--jwks-out",
        str(tmp_path / "jwks.json"),
    )
    assert oct((tmp_path / "key.pem").stat().st_mode & 0o777) == "0o600"
    assert json.loads((tmp_path / "jwks.json").read_text())["keys"][0]["crv"] == "Ed25519"


@pytest.mark.parametrize("algorithm", ["ES256", "RS256", "EdDSA"])
def test_token_client_with_a_private_key_gets_tokens_the_verifier_accepts(issuer, ms_doctor, algorithm):
    pair = keygen(algorithm)
    registered = client_register(
        name="ms_keyed", grants=[GrantSpec("ms_doctor", "doctors:read")], jwks=pair.jwks
    ).client
    client = TokenClient(issuer, registered.client_id, private_key=pair.private_key_pem)
    token = client.get_token(resource=DOCTORS)
    assert Verifier(issuer, DOCTORS).verify(token).client_id == registered.client_id
    client.forget(resource=DOCTORS)
    client.get_token(resource=DOCTORS)  # a second request: a fresh jti, not a replay
    rows = AuditEvent.objects.filter(event="token.issued").order_by("id")
    assert [row.details["client_assertion"]["kid"] for row in rows] == [pair.kid, pair.kid]
    assert rows[0].details["client_assertion"]["jti"] != rows[1].details["client_assertion"]["jti"]
    assert "PRIVATE" not in repr(client) and "PRIVATE" not in repr(client._signer)


def test_token_client_takes_a_private_jwk(issuer, ms_doctor):
    pair = keygen("ES256")
    key = AssertionSigner.load(pair.private_key_pem).key
    private_jwk = {**jwt.algorithms.ECAlgorithm.to_jwk(key, as_dict=True), "kid": pair.kid}
    registered = client_register(
        name="ms_keyed", grants=[GrantSpec("ms_doctor", "doctors:read")], jwks=pair.jwks
    ).client
    token = TokenClient(issuer, registered.client_id, private_key=private_jwk).get_token(resource=DOCTORS)
    assert Verifier(issuer, DOCTORS).verify(token).client_id == registered.client_id


def test_a_key_the_portal_does_not_hold_is_invalid_client(issuer, ms_doctor):
    registered = client_register(
        name="ms_keyed", grants=[GrantSpec("ms_doctor", "doctors:read")], jwks=keygen().jwks
    ).client
    other = keygen()
    with pytest.raises(InvalidClient, match="does not accept this client_id and private key"):
        TokenClient(issuer, registered.client_id, private_key=other.private_key_pem, retries=0).get_token(
            resource=DOCTORS
        )


def test_a_secret_and_a_key_together_are_refused():
    with pytest.raises(ValueError, match="either"):
        TokenClient("https://auth.example.com", "id", "secret", private_key=keygen().private_key_pem)
