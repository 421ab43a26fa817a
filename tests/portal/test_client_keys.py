"""A private_key_jwt client in the portal: registered by pasting its JWKS, its keys shown by thumbprint,
the next key added before the old one is removed; every change audited with the admin as actor."""

from __future__ import annotations

import json

import pytest
from jwcrypto.jwk import JWK

from audit.models import AuditEvent
from clients.models import Client
from clients.services import client_register
from tests.oauth.assertion_keys import new_key, public_jwk


def thumbprint(jwk: dict) -> str:
    return JWK(**jwk).thumbprint()


def keyed_client(key=None) -> tuple[Client, dict]:
    """ms_keyed, a private_key_jwt client without grants, and its one public key (kid k1; of `key` if given)."""
    jwk = public_jwk(key or new_key(), kid="k1")
    return client_register(name="ms_keyed", grants=[], jwks={"keys": [jwk]}).client, jwk


def registered_in_the_portal(admin_client, jwk: dict, *, jwks_uri: str = ""):
    """The answer to an admin's "New client" form for ms_keyed, its JWKS pasted (and `jwks_uri` typed)."""
    form = {
        "name": "ms_keyed",
        "access_token_lifetime": 600,
        "jwks": json.dumps({"keys": [jwk]}),
        "jwks_uri": jwks_uri,
    }
    return admin_client.post("/clients/new/", form, follow=True)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"jwks": "{not json"}, "jwks", "The JWKS is not JSON."),
        ({"jwks_uri": "http://keys.example.com/jwks"}, "jwks_uri", "must use https"),
    ],
)
def test_a_bad_jwks_or_url_is_shown_under_its_field(admin_client, form, field, message):
    response = admin_client.post("/clients/new/", {"name": "ms_keyed", "access_token_lifetime": 600, **form})
    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors[field])
    assert not Client.objects.filter(name="ms_keyed").exists()


@pytest.mark.django_db
def test_an_admin_registers_a_client_by_pasting_its_jwks_and_sees_no_secret(admin_client, ms_doctor):
    jwk = public_jwk(new_key(), kid="k1")
    response = registered_in_the_portal(admin_client, jwk)
    assert response.status_code == 200
    client = Client.objects.get(name="ms_keyed")
    page = response.content.decode()
    assert "private_key_jwt" in page and thumbprint(jwk) in page
    assert "client_secret" not in page and "Rotate secret" not in page
    assert client.uses_keys


@pytest.mark.django_db
def test_a_jwks_and_a_url_together_are_a_form_error(admin_client):
    response = registered_in_the_portal(
        admin_client, public_jwk(new_key(), kid="k1"), jwks_uri="https://k.example/jwks"
    )
    assert response.status_code == 200 and response.redirect_chain == []  # the form again, not a redirect
    assert "not both" in response.content.decode()
    assert not Client.objects.filter(name="ms_keyed").exists()


@pytest.mark.django_db
def test_rotation_without_downtime_add_the_next_key_then_remove_the_old(admin_client, ms_doctor):
    keyed, old = keyed_client()
    page = admin_client.get(f"/clients/{keyed.pk}/").content.decode()
    assert "only key" in page  # the last key cannot be removed
    new = public_jwk(new_key(), kid="k2")
    response = admin_client.post(f"/clients/{keyed.pk}/keys/add/", {"jwk": json.dumps(new)}, follow=True)
    page = response.content.decode()
    assert thumbprint(old) in page and thumbprint(new) in page
    response = admin_client.post(f"/clients/{keyed.pk}/keys/remove/", {"kid": "k1"}, follow=True)
    page = response.content.decode()
    assert thumbprint(old) not in page and thumbprint(new) in page
    added = AuditEvent.objects.get(event="client.key_added")
    removed = AuditEvent.objects.get(event="client.key_removed")
    assert added.actor == removed.actor == "alice-admin"
    assert added.details["thumbprint"] == thumbprint(new) and removed.details["thumbprint"] == thumbprint(old)
    assert added.request_id


@pytest.mark.django_db
def test_a_private_key_is_refused_as_the_next_key(admin_client, ms_doctor):
    from tests.oauth.assertion_keys import private_jwk

    private = new_key()
    keyed, _public = keyed_client(private)
    response = admin_client.post(
        f"/clients/{keyed.pk}/keys/add/", {"jwk": json.dumps(private_jwk(private, kid="k2"))}
    )
    assert response.status_code == 400
    assert "private or secret key" in response.content.decode()
    assert not AuditEvent.objects.filter(event="client.key_added").exists()


@pytest.mark.django_db
def test_an_auditor_sees_the_thumbprints_but_cannot_change_keys(auditor_client, ms_doctor):
    keyed, jwk = keyed_client()
    assert thumbprint(jwk) in auditor_client.get(f"/clients/{keyed.pk}/").content.decode()
    response = auditor_client.post(
        f"/clients/{keyed.pk}/keys/add/", {"jwk": json.dumps(public_jwk(new_key(), kid="k2"))}
    )
    assert response.status_code == 403
