"""Token exchange from a trusted issuer's user token (subject_token_type ...:jwt), through /o/token.

A gateway holds a user's token from an identity provider (minted here with a key made here; the
issuer is registered with that key's public JWKS stored in the database) and exchanges it for one of
our tokens to `ms_orders`, along an edge whose scope map is keyed by `@user`.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from clients.services import GrantSpec, ScopeSpec, client_register, service_register, trusted_issuer_add
from tests.clients.issuer_fakes import AUDIENCE, claims_at, compact, mint, public_jwk, rsa_key
from tests.clients.issuer_fakes import ISSUER as IDP
from tests.oauth.test_token_exchange import ACCESS_TOKEN, EXCHANGE, decode, refused

JWT = "urn:ietf:params:oauth:token-type:jwt"
GATEWAY, ORDERS, PAYMENTS = "https://gateway.internal", "https://orders.internal", "https://payments.internal"
LEDGER = "https://ledger.internal"
USER = "user:idp-example-com:alice"
KEY = rsa_key()


@pytest.fixture
def users(db):
    """gateway -> ms_orders for users (`@user`), ms_orders -> ms_payments for orders:write; ms_ledger
    has a client but no edge to ms_orders."""
    gateway = service_register(name="gateway", audience=GATEWAY, scopes=[ScopeSpec("gateway:use")])
    orders = service_register(
        name="ms_orders",
        audience=ORDERS,
        scopes=[ScopeSpec("orders:read"), ScopeSpec("orders:write"), ScopeSpec("orders:admin")],
    )
    payments = service_register(name="ms_payments", audience=PAYMENTS, scopes=[ScopeSpec("payments:charge")])
    ledger = service_register(name="ms_ledger", audience=LEDGER, scopes=[ScopeSpec("ledger:write")])
    # As an admin declares them, with the add_edge command.
    call_command(
        "add_edge", "gateway", "ms_orders", "--map", "@user=orders:read", "--map", "@user=orders:write"
    )
    call_command("add_edge", "ms_orders", "ms_payments", "--map", "orders:write=payments:charge")
    trusted_issuer_add(issuer=IDP, audience=AUDIENCE, jwks={"keys": [public_jwk(KEY, kid="k1")]})
    return SimpleNamespace(
        gateway=client_register(name="gateway-svc", grants=[], service=gateway),
        orders=client_register(name="orders-svc", grants=[], service=orders, access_token_lifetime=3600),
        payments=client_register(name="payments-svc", grants=[], service=payments),
        ledger=client_register(name="ledger-svc", grants=[], service=ledger),
    )


@pytest.fixture
def exchange(request_token):
    def post(actor, token: str, *, token_type: str = JWT, **params):
        body = {"grant_type": EXCHANGE, "subject_token": token, "subject_token_type": token_type}
        return request_token(actor, **{**body, **params})

    return post


def user_token(**claims) -> str:
    return mint(claims_at(datetime.now(UTC), **claims), KEY)


def test_a_gateway_exchanges_a_users_token_for_one_of_ours_then_the_next_hop_keeps_sub_and_txn(
    client, exchange, users
):
    user_exp = int(datetime.now(UTC).timestamp()) + 120  # shorter than the gateway's token lifetime
    response = exchange(users.gateway, user_token(exp=user_exp, jti="idp-1"), resource=ORDERS)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["issued_token_type"] == ACCESS_TOKEN
    first = decode(client, body["access_token"], ORDERS)
    assert first["sub"] == USER
    assert first["act"] == {"sub": users.gateway.client.client_id}  # the chain starts with the gateway
    assert first["client_id"] == users.gateway.client.client_id
    assert first["aud"] == ORDERS
    assert first["scope"] == "orders:read orders:write"
    assert first["txn"]
    assert first["exp"] <= user_exp
    assert body["expires_in"] <= 120

    row = AuditEvent.objects.filter(event="token.exchanged").latest("id")
    assert row.details["issuer"] == IDP
    assert row.details["sub"] == USER
    assert row.details["actor_chain"] == [users.gateway.client.client_id]
    assert row.details["edge"] == "gateway->ms_orders"
    assert row.details["txn"] == first["txn"]
    assert row.details["subject_jti"] == "idp-1"

    response = exchange(users.orders, body["access_token"], token_type=ACCESS_TOKEN, resource=PAYMENTS)
    assert response.status_code == 200, response.content
    second = decode(client, response.json()["access_token"], PAYMENTS)
    assert second["sub"] == USER
    assert second["txn"] == first["txn"]
    assert second["act"] == {
        "sub": users.orders.client.client_id,
        "act": {"sub": users.gateway.client.client_id},
    }
    assert second["scope"] == "payments:charge"
    assert second["exp"] <= user_exp


def test_scope_is_narrowed_to_what_the_edge_maps_for_users(client, exchange, users):
    response = exchange(users.gateway, user_token(), resource=ORDERS, scope="orders:read")
    assert response.status_code == 200, response.content
    assert decode(client, response.json()["access_token"], ORDERS)["scope"] == "orders:read"


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (lambda: user_token(iss="https://evil.example.com"), "subject token: unknown_issuer"),
        (lambda: user_token(aud="https://another.internal"), "subject token: wrong_audience"),
        (lambda: user_token(iat=1_700_000_000, exp=1_700_000_300), "subject token: expired"),
        (
            lambda: compact({"alg": "none", "kid": "k1"}, claims_at(datetime.now(UTC))),
            "subject token: algorithm_not_allowed",
        ),
        # Accepted by the verifier's 30 s leeway, but there is no lifetime left to give.
        (lambda: user_token(iat=None, exp=int(datetime.now(UTC).timestamp()) - 10), "subject token: expired"),
        (lambda: "not-a-jwt", "subject token: malformed"),
    ],
)
def test_a_user_token_that_does_not_verify_is_invalid_request_with_the_verifiers_reason(
    exchange, users, token, reason, caplog
):
    subject_token = token()
    with caplog.at_level(logging.DEBUG):
        row = refused(exchange(users.gateway, subject_token, resource=ORDERS), "invalid_request", reason)
    assert row.details["reason"] == reason
    assert subject_token not in json.dumps(row.details)
    assert subject_token not in caplog.text


def test_a_scope_the_edge_does_not_map_for_users_is_invalid_scope(exchange, users):
    response = exchange(users.gateway, user_token(), resource=ORDERS, scope="orders:admin")
    row = refused(response, "invalid_scope")
    assert row.details["sub"] == USER
    assert row.details["issuer"] == IDP


def test_users_cannot_be_exchanged_along_an_edge_with_no_user_mapping(exchange, users):
    # ms_orders -> ms_payments maps orders:write only: a user's token reaches ms_payments only via ms_orders.
    row = refused(exchange(users.orders, user_token(), resource=PAYMENTS), "invalid_scope", "@user")
    assert row.details["sub"] == USER


def test_a_services_token_gets_nothing_from_the_user_mapping(request_token, exchange, users):
    # A client's own token sent to the gateway holds gateway:use, never @user.
    caller = client_register(name="ms_caller", grants=[GrantSpec("gateway", "gateway:use")])
    response = request_token(caller, resource=GATEWAY)
    assert response.status_code == 200, response.content
    token = response.json()["access_token"]
    row = refused(exchange(users.gateway, token, token_type=ACCESS_TOKEN, resource=ORDERS), "invalid_scope")
    assert row.details["sub"] == caller.client.client_id


def test_a_client_whose_service_has_no_edge_to_the_target_is_invalid_target(exchange, users):
    refused(exchange(users.ledger, user_token(), resource=ORDERS), "invalid_target", "not declared")


def test_a_client_that_represents_no_service_is_unauthorized_client(exchange, users):
    outsider = client_register(name="ms_outsider", grants=[])
    refused(exchange(outsider, user_token(), resource=ORDERS), "unauthorized_client")


def test_an_issuer_whose_keys_cannot_be_fetched_is_503_temporarily_unavailable(exchange, users):
    # Port 18949 is ours and nothing listens on it: the JWKS cannot be fetched.
    trusted_issuer_add(
        issuer="http://127.0.0.1:18949", audience=AUDIENCE, jwks_uri="http://127.0.0.1:18949/jwks.json"
    )
    subject_token = user_token(iss="http://127.0.0.1:18949")
    response = exchange(users.gateway, subject_token, resource=ORDERS)
    assert response.status_code == 503, response.content
    assert response.json()["error"] == "temporarily_unavailable"
    assert response["Retry-After"]
    row = AuditEvent.objects.filter(event="token.denied").latest("id")
    assert row.details["error"] == "temporarily_unavailable"
    assert row.details["reason"] == "subject token: jwks_unavailable"
    assert subject_token not in json.dumps(row.details)


def test_an_edge_may_map_users_with_the_add_edge_command_but_no_unknown_upstream_scope(users):
    with pytest.raises(Exception, match="no scope 'user'"):
        call_command("add_edge", "gateway", "ms_ledger", "--map", "user=ledger:write")
