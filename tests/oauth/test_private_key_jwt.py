"""private_key_jwt client authentication (RFC 7523 §2.2) at the token endpoint: what is accepted, and
every refusal an invalid_client (401) whose exact reason is in the audit row only."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jwt
import pytest
from authlib.jose import JsonWebKey
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from django.conf import settings

from audit.actor import Actor
from audit.models import AuditEvent
from clients.client_keys import client_key_add, client_key_remove
from clients.services import client_register
from keys.selectors import jwks_build
from tests.clients.issuer_fakes import b64, compact
from tests.oauth.assertion_keys import assertion, key_client, new_key, private_jwk, public_jwk

INTEROP = Path(__file__).resolve().parent.parent / "interop"
ADMIN = Actor(name="alice-admin")


@pytest.fixture
def key():
    return new_key("ES256")


@pytest.fixture
def ms_keyed(ms_doctor, key):
    """ms_keyed holds no secret: it is registered with one ES256 public key, kid k1."""
    return key_client("ms_keyed", key, "ms_doctor:doctors:read")


def _our_public_keys():
    return {
        jwk["kid"]: jwt.PyJWK(jwk)
        for jwk in jwks_build(now=__import__("django.utils.timezone").utils.timezone.now())["keys"]
    }


def assert_token_for(response, client_id: str) -> dict:
    assert response.status_code == 200, response.content
    token = response.json()["access_token"]
    key = _our_public_keys()[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(
        token,
        key.key,
        algorithms=[key.algorithm_name],
        audience="https://doctors.internal",
        issuer=settings.AUTHPORTAL_ISSUER,
    )
    assert claims["client_id"] == claims["sub"] == client_id
    return claims


def last_row(event: str) -> AuditEvent:
    return AuditEvent.objects.filter(event=event).order_by("-id").first()


def assert_refused(response, reason: str) -> None:
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"]
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "Client authentication failed.",
    }
    row = last_row("token.denied")
    assert row.details["error"] == "invalid_client"
    assert row.details["reason"] == f"client assertion: {reason}"
    assert reason not in response.content.decode()


@pytest.mark.django_db
def test_a_good_assertion_gets_a_token_and_its_row_names_the_assertion(post_assertion, ms_keyed, key):
    signed = assertion(ms_keyed.client_id, key)
    claims = assert_token_for(post_assertion(signed), ms_keyed.client_id)
    row = last_row("token.issued")
    assert row.details["jti"] == claims["jti"]
    assert row.details["client_assertion"] == {
        "kid": "k1",
        "alg": "ES256",
        "jti": jwt.decode(signed, options={"verify_signature": False})["jti"],
        "exp": str(jwt.decode(signed, options={"verify_signature": False})["exp"]),
    }
    assert signed not in json.dumps(row.details)


@pytest.mark.django_db
@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "EdDSA"])
def test_every_allowed_algorithm_is_accepted(post_assertion, ms_doctor, alg):
    private = new_key(alg)
    registered = key_client("ms_alg", private, "ms_doctor:doctors:read", kid="a", alg=alg)
    signed = assertion(
        registered.client_id, private, kid="a", alg=alg, headers={"typ": "client-authentication+jwt"}
    )
    assert_token_for(post_assertion(signed), registered.client_id)


@pytest.mark.django_db
def test_the_token_endpoint_url_is_accepted_as_audience_unless_turned_off(
    post_assertion, ms_keyed, key, settings
):
    token_endpoint = settings.AUTHPORTAL_ISSUER + "/o/token"
    assert_token_for(
        post_assertion(assertion(ms_keyed.client_id, key, aud=token_endpoint)), ms_keyed.client_id
    )
    settings.AUTHPORTAL_CLIENT_ASSERTION_TOKEN_ENDPOINT_AUDIENCE = False
    assert_refused(post_assertion(assertion(ms_keyed.client_id, key, aud=token_endpoint)), "wrong_audience")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": -10_000, "iat": -10_060}, "expired"),
        ({"iat": +3600}, "issued_in_future"),
        ({"nbf": +3600}, "not_yet_valid"),
        ({"exp": +7200}, "too_long_lived"),
        ({"aud": "https://another-server.example"}, "wrong_audience"),
        ({"aud": ["ISSUER"]}, "wrong_audience"),
        ({"jti": None}, "missing_claim"),
        ({"exp": None}, "missing_claim"),
        ({"sub": "someone-else"}, "iss_sub_mismatch"),
    ],
)
def test_a_bad_claim_is_refused_and_audited(post_assertion, ms_keyed, key, claims, reason):
    import time

    now = int(time.time())
    overrides = {
        name: (now + value if name in ("exp", "iat", "nbf") and value is not None else value)
        for name, value in claims.items()
    }
    if overrides.get("aud") == ["ISSUER"]:
        overrides["aud"] = [settings.AUTHPORTAL_ISSUER]
    assert_refused(post_assertion(assertion(ms_keyed.client_id, key, **overrides)), reason)


@pytest.mark.django_db
def test_a_short_lifetime_setting_refuses_a_longer_assertion(post_assertion, ms_keyed, key, settings):
    import time

    settings.AUTHPORTAL_CLIENT_ASSERTION_MAX_LIFETIME = 60
    assert_refused(
        post_assertion(assertion(ms_keyed.client_id, key, exp=int(time.time()) + 300)), "too_long_lived"
    )


@pytest.mark.django_db
def test_a_replayed_jti_is_refused_with_redis(post_assertion, ms_keyed, key):
    assert settings.REDIS_URL, "this test proves the Redis store: run with REDIS_URL"
    signed = assertion(ms_keyed.client_id, key)
    assert post_assertion(signed).status_code == 200
    assert_refused(post_assertion(signed), "replayed_jti")


@pytest.mark.django_db
def test_a_replayed_jti_is_refused_without_redis_and_purged_after_expiry(
    post_assertion, ms_keyed, key, settings
):
    from django.utils import timezone

    from oauth.client_assertions import used_client_assertions_purge
    from oauth.models import UsedClientAssertion

    settings.REDIS_URL = None
    signed = assertion(ms_keyed.client_id, key)
    assert post_assertion(signed).status_code == 200
    assert_refused(post_assertion(signed), "replayed_jti")
    assert UsedClientAssertion.objects.count() == 1
    assert used_client_assertions_purge(now=timezone.now()) == 0
    assert used_client_assertions_purge(now=timezone.now() + timezone.timedelta(minutes=5)) == 1


@pytest.mark.django_db
def test_a_jti_of_another_client_is_not_a_replay(post_assertion, ms_keyed, ms_doctor, key):
    other_key = new_key()
    other = key_client("ms_other", other_key, "ms_doctor:doctors:read")
    assert post_assertion(assertion(ms_keyed.client_id, key, jti="same")).status_code == 200
    assert post_assertion(assertion(other.client_id, other_key, jti="same")).status_code == 200


@pytest.mark.django_db
def test_an_unknown_kid_is_refused(post_assertion, ms_keyed, key):
    assert_refused(post_assertion(assertion(ms_keyed.client_id, key, kid="k2")), "unknown_kid")


@pytest.mark.django_db
def test_alg_none_is_refused(post_assertion, ms_keyed):
    unsigned = compact({"alg": "none", "kid": "k1"}, {"iss": ms_keyed.client_id, "sub": ms_keyed.client_id})
    assert_refused(post_assertion(unsigned), "algorithm_not_allowed")


@pytest.mark.django_db
def test_hs256_signed_with_the_public_key_is_refused(post_assertion, ms_keyed, key):
    import hashlib
    import hmac
    import time

    from cryptography.hazmat.primitives import serialization

    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "kid": "k1"}).encode())
    payload = b64(
        json.dumps(
            {
                "iss": ms_keyed.client_id,
                "sub": ms_keyed.client_id,
                "aud": settings.AUTHPORTAL_ISSUER,
                "exp": now + 60,
                "jti": "x",
            }
        ).encode()
    )
    signature = b64(hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    assert_refused(post_assertion(f"{header}.{payload}.{signature}"), "algorithm_not_allowed")


@pytest.mark.django_db
def test_a_key_removed_from_the_clients_jwks_is_refused_and_its_successor_accepted(
    post_assertion, ms_keyed, key
):
    successor = new_key()
    client_key_add(client=ms_keyed, jwk=public_jwk(successor, kid="k2"), actor=ADMIN)
    assert post_assertion(assertion(ms_keyed.client_id, key, kid="k1")).status_code == 200
    assert post_assertion(assertion(ms_keyed.client_id, successor, kid="k2")).status_code == 200
    client_key_remove(client=ms_keyed, kid="k1", actor=ADMIN)
    assert_refused(post_assertion(assertion(ms_keyed.client_id, key, kid="k1")), "unknown_kid")
    assert post_assertion(assertion(ms_keyed.client_id, successor, kid="k2")).status_code == 200
    added, removed = last_row("client.key_added"), last_row("client.key_removed")
    assert added.actor == removed.actor == "alice-admin"
    assert (added.details["kid"], removed.details["kid"]) == ("k2", "k1")


@pytest.mark.django_db
def test_a_signature_by_another_key_is_refused(post_assertion, ms_keyed):
    assert_refused(post_assertion(assertion(ms_keyed.client_id, new_key(), kid="k1")), "bad_signature")


@pytest.mark.django_db
def test_a_key_client_cannot_use_a_secret_nor_a_secret_client_an_assertion(
    post_assertion, request_token, ms_keyed, ms_admin, key
):
    refused = post_assertion(assertion(ms_admin.client.client_id, key))
    assert refused.status_code == 401
    assert last_row("token.denied").details["reason"].startswith("client has no registered keys")
    assert (
        client_register(name="ms_x", grants=[], jwks={"keys": [public_jwk(key, kid="k1")]}).client_secret
        == ""
    )


@pytest.mark.django_db
def test_a_disabled_client_is_refused(post_assertion, ms_keyed, key):
    from clients.services import client_set_enabled

    client_set_enabled(client=ms_keyed, enabled=False)
    response = post_assertion(assertion(ms_keyed.client_id, key))
    assert response.status_code == 401
    assert last_row("token.denied").details["reason"] == "client disabled"


@pytest.mark.django_db
def test_an_assertion_beside_a_secret_is_an_invalid_request(post_assertion, ms_keyed, key):
    response = post_assertion(
        assertion(ms_keyed.client_id, key), client_secret="x", client_id=ms_keyed.client_id
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.django_db
def test_a_wrong_assertion_type_is_refused(post_assertion, ms_keyed, key):
    response = post_assertion(assertion(ms_keyed.client_id, key), client_assertion_type="urn:x")
    assert response.status_code == 401
    assert last_row("token.denied").details["reason"] == "client assertion: unsupported client_assertion_type"


@pytest.mark.django_db
def test_an_assertion_by_authlibs_documented_client_code_is_accepted(post_assertion, ms_keyed, key):
    """Authlib's private_key_jwt_sign, as its PrivateKeyJWT auth method calls it: aud is the token
    endpoint's URL, which we accept beside the issuer (RFC 7523's reading)."""
    authlib_key = JsonWebKey.import_key(private_jwk(key, kid="k1"))
    signed = private_key_jwt_sign(
        authlib_key,
        client_id=ms_keyed.client_id,
        token_endpoint=settings.AUTHPORTAL_ISSUER + "/o/token",
        alg="ES256",
        header={"kid": "k1"},
    )
    signed = signed.decode() if isinstance(signed, bytes) else signed
    assert_token_for(post_assertion(signed), ms_keyed.client_id)


@pytest.mark.interop
@pytest.mark.django_db
def test_an_assertion_by_node_jose_is_accepted(post_assertion, ms_keyed, key):
    if not shutil.which("node") or not (INTEROP / "node_modules" / "jose").is_dir():
        pytest.skip("node or the jose package is missing: run `make test` (npm install in tests/interop)")
    result = subprocess.run(
        [
            "node",
            "sign_assertion_jose.mjs",
            json.dumps(private_jwk(key, kid="k1")),
            ms_keyed.client_id,
            settings.AUTHPORTAL_ISSUER,
        ],
        cwd=INTEROP,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    signed = result.stdout.strip()
    assert jwt.get_unverified_header(signed)["typ"] == "client-authentication+jwt"
    assert_token_for(post_assertion(signed), ms_keyed.client_id)
