"""The trusted issuers pages: auditors read, admins add and remove (audited), nobody else gets in."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from clients.models import TrustedIssuer
from clients.services import trusted_issuer_add
from tests.clients.issuer_fakes import AUDIENCE, ISSUER, public_jwk, rsa_key

JWKS_URI = "https://idp.example.com/jwks.json"
LIST = reverse("portal:trusted_issuer_list")
CREATE = reverse("portal:trusted_issuer_create")


@pytest.fixture
def trusted(db):
    return trusted_issuer_add(issuer=ISSUER, jwks_uri=JWKS_URI, audience=AUDIENCE, slug="idp")


def form_data(**overrides) -> dict:
    data = {
        "issuer": ISSUER,
        "slug": "",
        "jwks_uri": JWKS_URI,
        "jwks": "",
        "audience": AUDIENCE,
        "user_claim": "sub",
        "algorithms": ["RS256", "ES256"],
    }
    return data | overrides


def test_an_auditor_reads_the_list_and_cannot_change_it(auditor_client, trusted):
    page = auditor_client.get(LIST)
    assert page.status_code == 200
    html = page.content.decode()
    assert ISSUER in html and "user:idp:&lt;sub&gt;" in html and JWKS_URI in html
    assert CREATE not in html and "Remove" not in html
    remove = reverse("portal:trusted_issuer_delete", args=[trusted.pk])
    assert auditor_client.get(CREATE).status_code == 403
    assert auditor_client.post(CREATE, form_data(issuer="https://x.example")).status_code == 403
    assert auditor_client.post(remove, {"confirmation": "idp"}).status_code == 403
    assert TrustedIssuer.objects.count() == 1


@pytest.mark.parametrize("who", ["anonymous", "outsider"])
def test_nobody_else_gets_in(client, outsider_user, trusted, who):
    if who == "outsider":
        client.force_login(outsider_user)
    expected = 302 if who == "anonymous" else 403
    remove = reverse("portal:trusted_issuer_delete", args=[trusted.pk])
    for url in (LIST, CREATE, remove):
        assert client.get(url).status_code == expected
    assert client.post(remove, {"confirmation": "idp"}).status_code == expected
    assert TrustedIssuer.objects.count() == 1


def test_the_nav_links_to_the_page(auditor_client, db):
    assert f'href="{LIST}"' in auditor_client.get(reverse("portal:dashboard")).content.decode()


def test_an_admin_adds_an_issuer_with_a_jwks_url(admin_client, admin_user):
    response = admin_client.post(CREATE, form_data())
    assert response.status_code == 302 and response["Location"] == LIST
    trusted = TrustedIssuer.objects.get()
    assert (trusted.slug, trusted.jwks_uri, trusted.algorithms) == (
        "idp-example-com",
        JWKS_URI,
        ["RS256", "ES256"],
    )
    event = AuditEvent.objects.get(event="issuer.added")
    assert (event.actor, event.subject) == (admin_user.username, "issuer:idp-example-com")


def test_an_admin_adds_an_issuer_with_a_pasted_jwks(admin_client):
    jwks = {"keys": [public_jwk(rsa_key(), kid="k1")]}
    response = admin_client.post(CREATE, form_data(jwks_uri="", jwks=json.dumps(jwks), slug="corp"))
    assert response.status_code == 302
    assert TrustedIssuer.objects.get(slug="corp").jwks == jwks


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"jwks_uri": "http://idp.example.com/jwks"}, "must use https"),
        ({"jwks_uri": ""}, "Give exactly one of a JWKS URL or a JWKS document"),
        ({"jwks": "{not json"}, "Not JSON"),
        ({"slug": "a:b"}, "is not a slug"),
        ({"algorithms": ["HS256"]}, "Select a valid choice"),
        ({"issuer": "http://idp.example.com"}, "must use https"),
    ],
)
def test_bad_input_is_a_form_error(admin_client, overrides, message):
    response = admin_client.post(CREATE, form_data(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not TrustedIssuer.objects.exists()
    assert not AuditEvent.objects.filter(event="issuer.added").exists()


def test_an_admin_removes_an_issuer_after_typing_its_slug(admin_client, admin_user, trusted):
    remove = reverse("portal:trusted_issuer_delete", args=[trusted.pk])
    assert "Type <code>idp</code>" in admin_client.get(remove).content.decode()
    wrong = admin_client.post(remove, {"confirmation": "nope"})
    assert wrong.status_code == 200 and "Type idp exactly" in wrong.content.decode()
    assert TrustedIssuer.objects.exists()
    response = admin_client.post(remove, {"confirmation": "idp"}, follow=True)
    assert response.redirect_chain == [(LIST, 302)] and not TrustedIssuer.objects.exists()
    assert "Stopped trusting idp" in response.content.decode()
    event = AuditEvent.objects.get(event="issuer.removed")
    assert (event.actor, event.subject) == (admin_user.username, "issuer:idp")
