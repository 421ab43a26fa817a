"""RFC 8414 metadata and the JWKS, checked by what a verifier in another language would do."""

from __future__ import annotations

import json

import jwt
import pytest

from keys.models import SigningKey
from tests.oauth.interop import jose_verify, php_verify

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}


def test_metadata_names_the_issuer_and_endpoints(client, ms_admin):
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    assert metadata["issuer"] == "http://localhost:8000"
    assert metadata["token_endpoint"] == "http://localhost:8000/o/token"
    assert metadata["jwks_uri"] == "http://localhost:8000/.well-known/jwks.json"
    assert metadata["grant_types_supported"] == [
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    ]
    assert metadata["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ]
    assert metadata["token_endpoint_auth_signing_alg_values_supported"] == [
        "RS256",
        "PS256",
        "ES256",
        "EdDSA",
    ]
    assert metadata["scopes_supported"] == ["college:read", "doctors:read", "doctors:write"]


def test_jwks_publishes_public_members_only_with_kid_use_alg(client, request_token, ms_admin):
    request_token(ms_admin, resource="https://doctors.internal")
    jwks = client.get("/.well-known/jwks.json").json()
    (key,) = jwks["keys"]
    assert not PRIVATE_MEMBERS & set(key)
    assert key["use"] == "sig"
    assert key["alg"] == "RS256"
    assert key["kid"] == SigningKey.objects.get().kid


def test_jwks_is_cacheable_and_revalidates_with_etag(client, request_token, ms_admin):
    request_token(ms_admin, resource="https://doctors.internal")
    first = client.get("/.well-known/jwks.json")
    assert first["Cache-Control"] == "public, max-age=300"
    assert first["ETag"]
    again = client.get("/.well-known/jwks.json", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]


def test_private_key_is_encrypted_at_rest(request_token, ms_admin):
    request_token(ms_admin, resource="https://doctors.internal")
    stored = SigningKey.objects.get().private_key_encrypted
    assert "PRIVATE KEY" not in stored
    assert stored.startswith("gAAAAA")  # a Fernet token


@pytest.fixture
def live_issuer(live_server, settings):
    settings.AUTHPORTAL_ISSUER = live_server.url
    return live_server.url


def token_over_http(issuer: str, registered, **params) -> str:
    import requests

    metadata = requests.get(f"{issuer}/.well-known/oauth-authorization-server", timeout=10).json()
    response = requests.post(
        metadata["token_endpoint"],
        data={"grant_type": "client_credentials", **params},
        auth=(registered.client.client_id, registered.client_secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.mark.django_db(transaction=True)
def test_token_verifies_with_pyjwks_client_against_the_live_jwks(live_issuer, ms_admin):
    token = token_over_http(live_issuer, ms_admin, resource="https://doctors.internal")
    jwks_client = jwt.PyJWKClient(f"{live_issuer}/.well-known/jwks.json")
    signing_key = jwks_client.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token, signing_key.key, algorithms=["RS256"], audience="https://doctors.internal", issuer=live_issuer
    )
    assert claims["client_id"] == ms_admin.client.client_id
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"


@pytest.mark.interop
@pytest.mark.django_db(transaction=True)
def test_token_verifies_with_node_jose(live_issuer, ms_admin):
    token = token_over_http(
        live_issuer, ms_admin, resource=["https://doctors.internal", "https://college.internal"]
    )
    outcome = jose_verify(live_issuer, "https://college.internal", token)
    assert outcome["ok"], outcome
    assert outcome["protectedHeader"]["typ"] == "at+jwt"
    assert outcome["payload"]["aud"] == ["https://doctors.internal", "https://college.internal"]


@pytest.mark.interop
@pytest.mark.django_db(transaction=True)
def test_token_verifies_in_php_with_the_published_public_key_file(live_issuer, ms_admin, settings, tmp_path):
    settings.AUTHPORTAL_PUBLIC_KEY_FILE = str(tmp_path / "oauth-public.key")
    token = token_over_http(live_issuer, ms_admin, resource="https://doctors.internal")
    result = php_verify(settings.AUTHPORTAL_PUBLIC_KEY_FILE, token, live_issuer, "https://doctors.internal")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "ok": True,
        "client_id": ms_admin.client.client_id,
        "scope": "doctors:read",
    }
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    rejected = php_verify(
        settings.AUTHPORTAL_PUBLIC_KEY_FILE, tampered, live_issuer, "https://doctors.internal"
    )
    assert rejected.returncode != 0
