"""Where a private_key_jwt client's keys come from: a JWKS URL fetched and cached like a trusted
issuer's, a file given to `create_client`; and the assertion authenticating every grant."""

from __future__ import annotations

import json

import pytest
import time_machine
from django.core.management import CommandError
from django.utils import timezone

from audit.models import AuditEvent
from clients.external_subjects import external_jwks_forget
from clients.models import Client
from clients.services import (
    GrantSpec,
    ScopeMapping,
    client_register,
    delegation_edge_add,
)
from tests.clients.issuer_fakes import FakeIssuer, serving
from tests.conftest import registered_service, run_command
from tests.oauth.assertion_keys import assertion, key_client, new_key, public_jwk

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"


@pytest.fixture(autouse=True)
def no_cached_jwks():
    external_jwks_forget()
    yield
    external_jwks_forget()


@pytest.mark.django_db
def test_keys_from_a_jwks_url_are_cached_and_an_unknown_kid_refetches_once_per_cooldown(
    post_assertion, ms_doctor
):
    key, next_key = new_key(), new_key()
    with serving(FakeIssuer()) as published:
        published.jwks = {"keys": [public_jwk(key, kid="k1")]}
        keyed = client_register(
            name="ms_remote",
            grants=[GrantSpec("ms_doctor", "doctors:read")],
            jwks_uri=published.url + "/jwks.json",
        ).client
        assert post_assertion(assertion(keyed.client_id, key)).status_code == 200
        assert post_assertion(assertion(keyed.client_id, key)).status_code == 200
        assert published.fetches() == 1  # Cache-Control: max-age=300
        # The client publishes its next key and signs with it: a refetch (past the 30 s cooldown) finds it.
        published.jwks = {"keys": [public_jwk(key, kid="k1"), public_jwk(next_key, kid="k2")]}
        published.headers["ETag"] = '"v2"'
        with time_machine.travel(timezone.now() + timezone.timedelta(seconds=31)):
            assert post_assertion(assertion(keyed.client_id, next_key, kid="k2")).status_code == 200
            assert published.fetches() == 2
            # A flood of made-up kids refetches at most once per cooldown: not at all, this soon.
            for _ in range(5):
                assert post_assertion(assertion(keyed.client_id, next_key, kid="made-up")).status_code == 401
            assert published.fetches() == 2
        with time_machine.travel(timezone.now() + timezone.timedelta(seconds=62)):
            for _ in range(5):
                assert post_assertion(assertion(keyed.client_id, next_key, kid="made-up")).status_code == 401
            assert published.fetches() == 3
        assert AuditEvent.objects.filter(event="token.denied").latest("id").details["reason"] == (
            "client assertion: unknown_kid"
        )


@pytest.mark.django_db
def test_a_jwks_url_that_cannot_be_read_is_503_not_a_refusal(post_assertion, ms_doctor):
    key = new_key()
    with serving(FakeIssuer()) as published:
        published.status = 500
        keyed = client_register(name="ms_remote", grants=[], jwks_uri=published.url + "/jwks.json").client
        response = post_assertion(assertion(keyed.client_id, key))
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert AuditEvent.objects.filter(event="token.denied").latest("id").details["reason"] == (
        "client assertion: jwks_unavailable"
    )


@pytest.mark.django_db
def test_a_client_authenticates_a_token_exchange_with_its_assertion(
    client, request_token, post_assertion, db
):
    orders = registered_service("ms_orders", "orders:read")
    payments = registered_service("ms_payments", "payments:read")
    delegation_edge_add(
        from_service=orders, to_service=payments, mappings=[ScopeMapping("orders:read", "payments:read")]
    )
    caller = client_register(name="ms_admin", grants=[GrantSpec("ms_orders", "orders:read")])
    key = new_key()
    orders_client = key_client("orders-svc", key, service=orders)
    first = request_token(caller, resource="https://orders.internal").json()["access_token"]
    body = {
        "grant_type": EXCHANGE,
        "subject_token": first,
        "subject_token_type": ACCESS_TOKEN,
        "resource": "https://payments.internal",
    }
    response = post_assertion(assertion(orders_client.client_id, key), **body)
    assert response.status_code == 200, response.content
    row = AuditEvent.objects.filter(event="token.exchanged").latest("id")
    assert row.details["client_assertion"]["kid"] == "k1"


@pytest.mark.django_db
def test_create_client_with_a_jwks_file_prints_only_the_client_id(tmp_path, ms_doctor):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [public_jwk(new_key(), kid="k1")]}))
    out = run_command(
        "create_client", "ms_keyed", "--grant", "ms_doctor:doctors:read", "--jwks", str(path), "--json"
    )
    printed = json.loads(out.strip().splitlines()[-1])
    client = Client.objects.get(name="ms_keyed")
    assert printed == {"client_id": client.client_id}
    assert client.uses_keys and client.jwks["keys"][0]["kid"] == "k1"
    created = AuditEvent.objects.get(event="client.created")
    assert created.details["auth_method"] == "private_key_jwt"
    assert created.details["keys"][0]["kid"] == "k1"


@pytest.mark.django_db
def test_create_client_with_a_jwks_url(ms_doctor):
    out = run_command(
        "create_client", "ms_keyed", "--jwks-uri", "https://keys.example.com/jwks.json", "--json"
    )
    client = Client.objects.get(name="ms_keyed")
    assert json.loads(out.strip().splitlines()[-1]) == {"client_id": client.client_id}
    assert client.jwks_uri == "https://keys.example.com/jwks.json"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}, "private or secret key"),
        ({"keys": []}, "Not a usable JWKS"),
        ("not json", "not JSON"),
    ],
)
def test_create_client_refuses_a_jwks_that_is_no_public_key_set(tmp_path, ms_doctor, document, message):
    path = tmp_path / "jwks.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    with pytest.raises(CommandError, match=message):
        run_command("create_client", "ms_keyed", "--jwks", str(path))
    assert not Client.objects.filter(name="ms_keyed").exists()


@pytest.mark.django_db
def test_create_client_refuses_a_plain_http_jwks_url(ms_doctor):
    with pytest.raises(CommandError, match="https"):
        run_command("create_client", "ms_keyed", "--jwks-uri", "http://keys.example.com/jwks.json")


@pytest.mark.django_db
def test_a_key_client_has_no_secret_to_rotate(ms_doctor):
    from django.core.exceptions import ValidationError

    from clients.services import client_secret_rotate

    keyed = key_client("ms_keyed", new_key())
    with pytest.raises(ValidationError, match="no secret to rotate"):
        client_secret_rotate(client=keyed, old_secret_valid_for=timezone.timedelta(0))
