"""What a good token yields, and the checks each claim gets, on tokens signed with keys we hold."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from authportal_client import InvalidToken, KeysUnavailable, Verifier

from tests.sdk.conftest import AUDIENCE, ISSUER, NOW, Clock


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "EdDSA"])
def test_a_good_token_of_each_algorithm_yields_its_claims(verifier, mint, alg):
    claims = verifier.verify(mint(alg))
    assert claims.client_id == "client-1"
    assert claims.scopes == frozenset({"doctors:read"})
    assert claims.audience == (AUDIENCE,)
    assert claims.expires_at == datetime.fromtimestamp(NOW + 600, UTC)
    assert claims.has_scope("doctors:read") and not claims.has_scope("doctors:write")
    assert claims.raw["jti"] == "jti-1"


def test_claims_list_every_scope_and_audience(verifier, mint):
    claims = verifier.verify(
        mint(scope="doctors:read doctors:write", aud=["https://college.internal", AUDIENCE])
    )
    assert claims.scopes == {"doctors:read", "doctors:write"}
    assert claims.audience == ("https://college.internal", AUDIENCE)


def test_bytes_tokens_verify_like_text(verifier, mint):
    assert verifier.verify(mint().encode()).client_id == "client-1"


def test_the_same_token_verifies_again_from_the_remembered_header(verifier, mint):
    token = mint()
    verifier.verify(token)
    assert verifier.can_verify_without_io(token)
    assert verifier.verify(token).client_id == "client-1"


def test_expiry_allows_only_the_leeway(jwks_file, mint):
    token = mint()
    clock = Clock(NOW + 600 + 29)
    assert Verifier(ISSUER, AUDIENCE, jwks_file=jwks_file, clock=clock, leeway=30).verify(token)
    clock.now = NOW + 600 + 30
    with pytest.raises(InvalidToken, match="expired"):
        Verifier(ISSUER, AUDIENCE, jwks_file=jwks_file, clock=clock, leeway=30).verify(token)


def test_a_remembered_header_does_not_skip_the_claim_checks(verifier, mint):
    verifier.verify(mint())
    with pytest.raises(InvalidToken, match="audience"):
        verifier.verify(mint(aud="https://college.internal"))


def test_a_key_the_jwks_no_longer_lists_stops_verifying_once_the_file_is_reread(
    jwks_file, mint, signing_keys
):
    clock = Clock()
    verifier = Verifier(ISSUER, AUDIENCE, jwks_file=jwks_file, clock=clock, file_max_age=60)
    token = mint("ES256")
    verifier.verify(token)
    remaining = [key.public_jwk for alg, key in signing_keys.items() if alg != "ES256"]
    jwks_file.write_text(json.dumps({"keys": remaining}))
    clock.now += 61
    with pytest.raises(InvalidToken, match="unknown key"):
        verifier.verify(token)


def test_without_any_keys_every_token_is_refused_as_keys_unavailable(tmp_path, mint):
    verifier = Verifier(ISSUER, AUDIENCE, jwks_file=tmp_path / "missing.json", clock=Clock())
    with pytest.raises(KeysUnavailable):
        verifier.verify(mint())


def test_keys_the_jwks_should_never_hold_are_left_out(tmp_path, signing_keys, mint):
    rsa_key = signing_keys["RS256"].public_jwk
    jwks = {
        "keys": [
            {**rsa_key, "d": "AQAB"},  # a private member
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac", "alg": "HS256"},
            {**signing_keys["ES256"].public_jwk, "use": "enc"},
            {**signing_keys["EdDSA"].public_jwk, "alg": "ES256"},  # a key that does not fit its alg
            signing_keys["PS256"].public_jwk,
        ]
    }
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    verifier = Verifier(ISSUER, AUDIENCE, jwks_file=path, clock=Clock())
    assert verifier.verify(mint("PS256"))
    for alg in ("RS256", "ES256", "EdDSA"):
        with pytest.raises(InvalidToken):
            verifier.verify(mint(alg))
    assert set(verifier.keys.snapshot.keys) == {"pss-1"}


def test_an_algorithm_allow_list_narrows_what_verifies(jwks_file, mint):
    verifier = Verifier(ISSUER, AUDIENCE, jwks_file=jwks_file, clock=Clock(), algorithms=["ES256"])
    assert verifier.verify(mint("ES256"))
    with pytest.raises(InvalidToken, match="algorithm"):
        verifier.verify(mint("RS256"))


def test_an_unsupported_algorithm_in_the_allow_list_is_a_configuration_error(jwks_file):
    with pytest.raises(ValueError, match="HS256"):
        Verifier(ISSUER, AUDIENCE, jwks_file=jwks_file, algorithms=["RS256", "HS256"])
