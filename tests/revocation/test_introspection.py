"""Introspection (RFC 7662) at /o/introspect: active only for our valid, unrevoked token of an enabled
client whose audience includes the caller's own service; otherwise {"active": false} and nothing else;
every answer recorded without the token."""

from __future__ import annotations

import json

import jwt
import pytest
from django.utils import timezone

from audit.models import AuditEvent
from clients.services import client_register, client_set_enabled


def introspect(post_as, caller, token: str):
    return post_as("/o/introspect", caller, token=token)


@pytest.mark.django_db
def test_the_service_a_token_is_for_sees_its_claims(post_as, token_for, ms_admin, doctor_gateway, settings):
    token = token_for(ms_admin)
    response = introspect(post_as, doctor_gateway, token)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    body = response.json()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert body == {
        "active": True,
        "token_type": "Bearer",
        "iss": settings.AUTHPORTAL_ISSUER,
        "sub": ms_admin.client.client_id,
        "aud": "https://doctors.internal",
        "client_id": ms_admin.client.client_id,
        "scope": "doctors:read",
        "exp": claims["exp"],
        "iat": claims["iat"],
        "jti": claims["jti"],
    }
    row = AuditEvent.objects.get(event="introspection.answered")
    assert row.actor == doctor_gateway.client.client_id
    assert row.details == {"active": True, "jti": claims["jti"], "client": ms_admin.client.client_id}
    assert token not in json.dumps(row.details)


@pytest.mark.django_db
def test_another_service_learns_nothing(post_as, token_for, ms_admin, ms_college):
    college_gateway = client_register(name="ms_college_gateway", grants=[], service=ms_college)
    assert introspect(post_as, college_gateway, token_for(ms_admin)).json() == {"active": False}
    assert (
        AuditEvent.objects.get(event="introspection.answered").details["reason"]
        == "not for the caller's service"
    )


@pytest.mark.django_db
def test_a_caller_that_represents_no_service_learns_nothing(post_as, token_for, ms_admin, ms_reports):
    assert introspect(post_as, ms_reports, token_for(ms_admin)).json() == {"active": False}


@pytest.mark.django_db
def test_a_disabled_clients_token_is_inactive(post_as, token_for, ms_admin, doctor_gateway):
    token = token_for(ms_admin)
    client_set_enabled(client=ms_admin.client, enabled=False)
    assert introspect(post_as, doctor_gateway, token).json() == {"active": False}
    assert AuditEvent.objects.filter(event="introspection.answered").latest("id").details["reason"] == (
        "client disabled or removed"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
def test_what_is_not_our_token_is_inactive(post_as, doctor_gateway, token):
    response = introspect(post_as, doctor_gateway, token)
    if token == "":  # an empty parameter counts as omitted
        assert response.status_code == 400
        return
    assert response.json() == {"active": False}


@pytest.mark.django_db
def test_an_expired_token_is_inactive(post_as, token_for, ms_admin, doctor_gateway):
    import time_machine

    token = token_for(ms_admin)
    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=601)):
        assert introspect(post_as, doctor_gateway, token).json() == {"active": False}
    assert (
        AuditEvent.objects.filter(event="introspection.answered").latest("id").details["reason"] == "expired"
    )


@pytest.mark.django_db
def test_a_token_signed_by_another_key_is_inactive(post_as, token_for, ms_admin, doctor_gateway):
    from cryptography.hazmat.primitives.asymmetric import rsa

    real = jwt.decode(token_for(ms_admin), options={"verify_signature": False})
    kid = jwt.get_unverified_header(token_for(ms_admin))["kid"]
    forged = jwt.encode(
        real,
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": kid, "typ": "at+jwt"},
    )
    assert introspect(post_as, doctor_gateway, forged).json() == {"active": False}
    assert (
        AuditEvent.objects.filter(event="introspection.answered").latest("id").details["reason"]
        == "bad signature"
    )


@pytest.mark.django_db
def test_a_caller_that_does_not_authenticate_gets_401_and_a_row(post_as, token_for, ms_admin, doctor_gateway):
    token = token_for(ms_admin)
    wrong = type(doctor_gateway)(client=doctor_gateway.client, client_secret="wrong")
    response = introspect(post_as, wrong, token)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    row = AuditEvent.objects.get(event="introspection.answered")
    assert row.outcome == "failure"
    assert row.details == {"error": "invalid_client", "reason": "wrong client secret"}
    assert introspect(post_as, None, token).status_code == 401


@pytest.mark.django_db
def test_the_metadata_lists_introspection(client):
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    assert metadata["introspection_endpoint"].endswith("/o/introspect")
    assert "private_key_jwt" in metadata["introspection_endpoint_auth_methods_supported"]


@pytest.mark.django_db
def test_only_post_is_served(client):
    response = client.get("/o/introspect")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
