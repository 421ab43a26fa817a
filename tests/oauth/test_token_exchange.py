"""RFC 8693 token exchange at /o/token along the declared call graph, verified with PyJWT and the SDK.

The cast: `ms_admin` (no service of its own) calls `ms_orders`; `ms_orders` calls `ms_payments` on its
behalf, and `ms_payments` calls `ms_ledger`. Each service has a client that represents it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from types import SimpleNamespace

import jwt
import pytest
import time_machine
from authportal_client import Verifier
from django.core.management import call_command
from django.urls import reverse
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS

from audit.models import AuditEvent
from clients.models import DelegationEdge
from clients.selectors import delegation_edges_with_traffic
from clients.services import (
    GrantSpec,
    ScopeMapping,
    ScopeSpec,
    client_register,
    client_set_enabled,
    delegation_edge_add,
    delegation_edge_remove,
    delegation_edge_set_enabled,
    service_register,
)
from keys.tokens import signer_active
from tests.conftest import pyjwt_decode
from tests.oauth.interop import jose_verify

ISSUER = "http://localhost:8000"
ORDERS, PAYMENTS, LEDGER = "https://orders.internal", "https://payments.internal", "https://ledger.internal"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"


@pytest.fixture
def graph(db):
    orders = service_register(
        name="ms_orders", audience=ORDERS, scopes=[ScopeSpec("orders:read"), ScopeSpec("orders:write")]
    )
    payments = service_register(
        name="ms_payments",
        audience=PAYMENTS,
        scopes=[ScopeSpec("payments:charge"), ScopeSpec("payments:read")],
    )
    ledger = service_register(name="ms_ledger", audience=LEDGER, scopes=[ScopeSpec("ledger:write")])
    caller = client_register(
        name="ms_admin",
        grants=[GrantSpec("ms_orders", "orders:write"), GrantSpec("ms_orders", "orders:read")],
    )
    reader = client_register(name="ms_reader", grants=[GrantSpec("ms_orders", "orders:read")])
    edges = SimpleNamespace(
        orders_payments=delegation_edge_add(
            from_service=orders,
            to_service=payments,
            mappings=[
                ScopeMapping("orders:write", "payments:charge"),
                ScopeMapping("orders:read", "payments:read"),
            ],
        ),
        payments_ledger=delegation_edge_add(
            from_service=payments,
            to_service=ledger,
            mappings=[ScopeMapping("payments:charge", "ledger:write")],
        ),
    )
    return SimpleNamespace(
        orders=orders,
        payments=payments,
        ledger=ledger,
        caller=caller,
        reader=reader,
        orders_client=client_register(
            name="orders-svc", grants=[], service=orders, access_token_lifetime=3600
        ),
        payments_client=client_register(name="payments-svc", grants=[], service=payments),
        ledger_client=client_register(name="ledger-svc", grants=[], service=ledger),
        edges=edges,
    )


@pytest.fixture
def exchange(request_token):
    def post(actor, token: str, **params):
        body = {"grant_type": EXCHANGE, "subject_token": token, "subject_token_type": ACCESS_TOKEN}
        return request_token(actor, **{**body, **params})

    return post


@pytest.fixture
def first_token(request_token, graph):
    """What ms_admin sends ms_orders: a client_credentials token for orders:read orders:write."""
    response = request_token(graph.caller, resource=ORDERS)
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


@pytest.fixture
def second_token(exchange, graph, first_token):
    """What ms_orders sends ms_payments: first_token exchanged along the edge ms_orders -> ms_payments."""
    response = exchange(graph.orders_client, first_token, resource=PAYMENTS)
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def decode(client, token: str, audience: str) -> dict:
    """PyJWT against the published JWKS: our code is not the judge."""
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    return pyjwt_decode(client, token, audience)


def sdk_verify(client, tmp_path, token: str, audience: str):
    jwks = tmp_path / "jwks.json"
    jwks.write_bytes(client.get("/.well-known/jwks.json").content)
    return Verifier(ISSUER, audience, jwks_file=jwks).verify(token)


def refused(response, error: str, reason: str | None = None) -> AuditEvent:
    """The answer is RFC 6749 JSON with `error`, and its token.denied row says precisely why."""
    assert response.status_code == (401 if error == "invalid_client" else 400), response.content
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["error"] == error, body
    assert body["error_description"]
    assert "access_token" not in body
    row = AuditEvent.objects.filter(event="token.denied").latest("id")
    assert row.details["error"] == error
    if reason is not None:
        assert reason in row.details["reason"], row.details
    assert "eyJ" not in json.dumps(row.details)  # never a token in the log
    return row


# --- the exchange itself -------------------------------------------------------------------------------


def test_exchange_gives_the_next_hop_a_token_for_the_original_caller(
    client, exchange, graph, first_token, tmp_path
):
    response = exchange(graph.orders_client, first_token, resource=PAYMENTS)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["issued_token_type"] == ACCESS_TOKEN  # RFC 8693 §2.2.1
    assert body["scope"] == "payments:charge payments:read"
    claims = decode(client, body["access_token"], PAYMENTS)
    first = decode(client, first_token, ORDERS)
    assert claims["sub"] == graph.caller.client.client_id  # the original caller
    assert claims["client_id"] == graph.orders_client.client.client_id  # the actor
    assert claims["aud"] == PAYMENTS
    assert claims["act"] == {"sub": graph.orders_client.client.client_id}
    assert claims["txn"]
    assert claims["scope"] == "payments:charge payments:read"
    verified = sdk_verify(client, tmp_path, body["access_token"], PAYMENTS)
    assert verified.subject == graph.caller.client.client_id
    assert verified.actor_chain == (graph.orders_client.client.client_id,)
    assert verified.txn == claims["txn"]
    # ms_orders' tokens last an hour, the subject token ten minutes: the exchanged one no longer.
    assert claims["exp"] == first["exp"]
    assert body["expires_in"] <= 600


def test_every_hop_keeps_the_subject_and_the_txn_and_nests_the_actors(
    client, exchange, graph, first_token, tmp_path
):
    second = exchange(graph.orders_client, first_token, resource=PAYMENTS).json()["access_token"]
    response = exchange(graph.payments_client, second, resource=LEDGER)
    assert response.status_code == 200, response.content
    third = decode(client, response.json()["access_token"], LEDGER)
    orders_id, payments_id = graph.orders_client.client.client_id, graph.payments_client.client.client_id
    assert third["sub"] == graph.caller.client.client_id
    assert third["client_id"] == payments_id
    assert third["act"] == {"sub": payments_id, "act": {"sub": orders_id}}  # nearest actor outermost
    assert third["txn"] == decode(client, second, PAYMENTS)["txn"]
    assert third["scope"] == "ledger:write"
    verified = sdk_verify(client, tmp_path, response.json()["access_token"], LEDGER)
    assert verified.actor_chain == (payments_id, orders_id)


def test_scope_narrows_to_what_the_edge_allows_for_the_subjects_scopes(
    request_token, exchange, graph, first_token
):
    narrowed = exchange(graph.orders_client, first_token, resource=PAYMENTS, scope="payments:read")
    assert narrowed.status_code == 200
    assert narrowed.json()["scope"] == "payments:read"
    # ms_reader holds orders:read only, which allows payments:read and not payments:charge.
    reader_token = request_token(graph.reader, resource=ORDERS).json()["access_token"]
    row = refused(
        exchange(graph.orders_client, reader_token, resource=PAYMENTS, scope="payments:charge"),
        "invalid_scope",
    )
    assert row.details["edge"] == "ms_orders->ms_payments"
    assert exchange(graph.orders_client, reader_token, resource=PAYMENTS).json()["scope"] == "payments:read"
    refused(
        exchange(graph.orders_client, first_token, resource=PAYMENTS, scope="ledger:write"), "invalid_scope"
    )


def test_without_scope_the_edge_must_allow_something_for_the_subjects_scopes(request_token, exchange, graph):
    reader_token = request_token(graph.reader, resource=ORDERS).json()["access_token"]
    second = exchange(graph.orders_client, reader_token, resource=PAYMENTS).json()["access_token"]
    # payments:read maps to nothing on the edge to the ledger.
    refused(
        exchange(graph.payments_client, second, resource=LEDGER),
        "invalid_scope",
        "maps none of payments:read",
    )


def test_an_undeclared_disabled_or_removed_edge_is_invalid_target(exchange, graph, first_token):
    refused(
        exchange(graph.orders_client, first_token, resource=LEDGER),
        "invalid_target",
        "edge ms_orders->ms_ledger is not declared",
    )
    refused(exchange(graph.orders_client, first_token, resource="https://nowhere.internal"), "invalid_target")
    assert exchange(graph.orders_client, first_token, resource=PAYMENTS).status_code == 200  # now cached
    delegation_edge_set_enabled(edge=graph.edges.orders_payments, enabled=False)
    refused(exchange(graph.orders_client, first_token, resource=PAYMENTS), "invalid_target", "is disabled")
    delegation_edge_set_enabled(edge=graph.edges.orders_payments, enabled=True)
    assert exchange(graph.orders_client, first_token, resource=PAYMENTS).status_code == 200
    delegation_edge_remove(edge=graph.edges.orders_payments)
    # The process decided the last exchange from cached credentials: the registry version says no more.
    refused(exchange(graph.orders_client, first_token, resource=PAYMENTS), "invalid_target", "not declared")


def test_a_client_that_represents_no_service_is_unauthorized_client(exchange, graph, first_token):
    refused(
        exchange(graph.caller, first_token, resource=PAYMENTS), "unauthorized_client", "represents no service"
    )


def test_the_actor_must_authenticate(exchange, graph, first_token):
    client_set_enabled(client=graph.orders_client.client, enabled=False)
    refused(
        exchange(graph.orders_client, first_token, resource=PAYMENTS), "invalid_client", "client disabled"
    )


def test_a_token_sent_to_another_service_is_refused_replayed_on_another_edge(exchange, graph, first_token):
    # ms_payments holds no token sent to it here: it presents the one ms_admin sent ms_orders.
    row = refused(
        exchange(graph.payments_client, first_token, resource=LEDGER), "invalid_request", "wrong audience"
    )
    assert row.actor == graph.payments_client.client.client_id
    second = exchange(graph.orders_client, first_token, resource=PAYMENTS).json()["access_token"]
    # ms_orders replays the token it obtained for ms_payments to reach ms_payments again, or the ledger.
    refused(exchange(graph.orders_client, second, resource=PAYMENTS), "invalid_request", "wrong audience")
    refused(exchange(graph.ledger_client, second, resource=PAYMENTS), "invalid_request", "wrong audience")


def test_the_chain_is_bounded_by_the_edges_max_depth(exchange, graph, second_token):
    DelegationEdge.objects.filter(pk=graph.edges.payments_ledger.pk).update(max_depth=1)
    row = refused(
        exchange(graph.payments_client, second_token, resource=LEDGER), "invalid_request", "chain too deep"
    )
    assert row.details["edge"] == "ms_payments->ms_ledger"
    assert row.details["txn"] == jwt.decode(second_token, options={"verify_signature": False})["txn"]


def test_a_cycle_is_refused(exchange, graph, second_token):
    delegation_edge_add(
        from_service=graph.payments,
        to_service=graph.orders,
        mappings=[ScopeMapping("payments:charge", "orders:write")],
        max_depth=5,
    )
    refused(
        exchange(graph.payments_client, second_token, resource=ORDERS),
        "invalid_request",
        "cycle: service ms_orders appears twice",
    )


def test_the_original_callers_own_service_counts_in_the_cycle(request_token, exchange, graph):
    # ms_payments itself calls ms_orders directly; ms_orders may not bring the call back to ms_payments.
    client_register(name="payments-direct", grants=[], service=graph.payments)
    payments_caller = client_register(
        name="payments-caller", grants=[GrantSpec("ms_orders", "orders:write")], service=graph.payments
    )
    token = request_token(payments_caller, resource=ORDERS).json()["access_token"]
    refused(
        exchange(graph.orders_client, token, resource=PAYMENTS),
        "invalid_request",
        "cycle: service ms_payments appears twice",
    )


# --- hostile subject tokens ----------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(claims: dict, header: dict, key: JWK | None) -> str:
    signed = JWS(json.dumps(claims).encode())
    signed.add_signature(key, alg=header["alg"], protected=json.dumps(header))
    return signed.serialize(compact=True)


def claims_like(client, first_token: str, **changes) -> dict:
    return {**decode(client, first_token, ORDERS), **changes}


@pytest.mark.parametrize(
    "attack",
    [
        "alg_none",
        "hs256_with_public_key",
        "another_issuer",
        "another_key",
        "tampered",
        "typ_jwt",
        "unknown_kid",
    ],
)
def test_hostile_subject_tokens_are_refused_and_audited(client, exchange, graph, first_token, attack):
    signer = signer_active()
    kid = signer.kid
    claims = claims_like(client, first_token)
    if attack == "alg_none":
        token = f"{b64(json.dumps({'alg': 'none', 'kid': kid, 'typ': 'at+jwt'}).encode())}.{b64(json.dumps(claims).encode())}."
    elif attack == "hs256_with_public_key":
        public_pem = signer.jwk.export_to_pem().decode().encode()
        signing_input = f"{b64(json.dumps({'alg': 'HS256', 'kid': kid, 'typ': 'at+jwt'}).encode())}.{b64(json.dumps(claims).encode())}"
        token = (
            signing_input + "." + b64(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())
        )
    elif attack == "another_issuer":
        token = forge(
            {**claims, "iss": "https://evil.example"},
            {"alg": "RS256", "kid": kid, "typ": "at+jwt"},
            signer.jwk,
        )
    elif attack == "another_key":
        token = forge(
            claims, {"alg": "RS256", "kid": kid, "typ": "at+jwt"}, JWK.generate(kty="RSA", size=2048)
        )
    elif attack == "tampered":
        header, payload, signature = first_token.split(".")
        token = ".".join(
            [header, b64(json.dumps({**claims, "scope": "orders:write orders:admin"}).encode()), signature]
        )
    elif attack == "typ_jwt":
        token = forge(claims, {"alg": "RS256", "kid": kid, "typ": "JWT"}, signer.jwk)
    else:
        token = forge(claims, {"alg": "RS256", "kid": "not-ours", "typ": "at+jwt"}, signer.jwk)
    row = refused(
        exchange(graph.orders_client, token, resource=PAYMENTS), "invalid_request", "subject token:"
    )
    assert row.actor == graph.orders_client.client.client_id
    assert not AuditEvent.objects.filter(event="token.exchanged").exists()


def test_an_expired_subject_token_is_refused(exchange, graph, first_token):
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=601), tick=False):
        refused(exchange(graph.orders_client, first_token, resource=PAYMENTS), "invalid_request", "expired")


def test_a_token_of_a_revoked_key_is_refused(exchange, graph, first_token, monkeypatch):
    monkeypatch.setattr("oauth.exchange.PUBLISHED_KEY_RECHECK_SECONDS", 0)
    assert exchange(graph.orders_client, first_token, resource=PAYMENTS).status_code == 200
    call_command("rotate_keys", "--now", stdout=StringIO())
    assert (
        exchange(graph.orders_client, first_token, resource=PAYMENTS).status_code == 200
    )  # retired: published
    old_kid = jwt.get_unverified_header(first_token)["kid"]
    call_command("revoke_key", old_kid, stdout=StringIO())
    refused(exchange(graph.orders_client, first_token, resource=PAYMENTS), "invalid_request", "revoked")


# --- the request ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "error", "words"),
    [
        (
            # Our own token sent as a trusted issuer's: we are no trusted issuer of ourselves.
            {"subject_token_type": "urn:ietf:params:oauth:token-type:jwt"},
            "invalid_request",
            "subject token: unknown_issuer",
        ),
        (
            {"subject_token_type": "urn:ietf:params:oauth:token-type:id_token"},
            "invalid_request",
            "subject_token_type",
        ),
        (
            {"requested_token_type": "urn:ietf:params:oauth:token-type:jwt"},
            "invalid_request",
            "requested_token_type",
        ),
        (
            {"actor_token": "x", "actor_token_type": ACCESS_TOKEN},
            "invalid_request",
            "actor_token is not supported",
        ),
        ({"subject_token": ""}, "invalid_request", "subject_token and subject_token_type are required"),
        ({"resource": ""}, "invalid_request", "resource is required"),
        ({"resource": [PAYMENTS, LEDGER]}, "invalid_target", "exactly one resource"),
        ({"audience": "ms_payments"}, "invalid_request", "resource (RFC 8707)"),
    ],
)
def test_what_the_exchange_does_not_support_is_refused_clearly(
    exchange, graph, first_token, params, error, words
):
    body = refused(exchange(graph.orders_client, first_token, **{"resource": PAYMENTS, **params}), error)
    assert words in AuditEvent.objects.filter(event="token.denied").latest("id").details["reason"]
    assert body.details["grant_type"] == "token-exchange"


def test_metadata_lists_the_token_exchange_grant(client, graph):
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    assert metadata["grant_types_supported"] == ["client_credentials", EXCHANGE]


# --- the audit trail -----------------------------------------------------------------------------------


def test_token_exchanged_records_subject_actor_chain_edge_txn_and_subject_jti(
    client, exchange, graph, first_token
):
    second = exchange(graph.orders_client, first_token, resource=PAYMENTS).json()["access_token"]
    third = exchange(graph.payments_client, second, resource=LEDGER).json()["access_token"]
    rows = list(AuditEvent.objects.filter(event="token.exchanged").order_by("id"))
    assert len(rows) == 2
    claims2, claims3 = decode(client, second, PAYMENTS), decode(client, third, LEDGER)
    orders_id, payments_id = graph.orders_client.client.client_id, graph.payments_client.client.client_id
    assert rows[0].actor == orders_id and rows[0].subject == f"client:{orders_id}"
    assert rows[0].details["sub"] == graph.caller.client.client_id
    assert rows[0].details["actor_chain"] == [orders_id]
    assert rows[0].details["edge"] == "ms_orders->ms_payments"
    assert rows[0].details["subject_jti"] == decode(client, first_token, ORDERS)["jti"]
    assert rows[0].details["jti"] == claims2["jti"]
    assert rows[1].details["actor_chain"] == [payments_id, orders_id]
    assert rows[1].details["subject_jti"] == claims2["jti"]
    assert rows[0].details["txn"] == rows[1].details["txn"] == claims3["txn"]


def test_export_audit_by_txn_returns_every_hop_of_one_transaction(
    exchange, graph, first_token, request_token, tmp_path
):
    second = exchange(graph.orders_client, first_token, resource=PAYMENTS).json()["access_token"]
    exchange(graph.payments_client, second, resource=LEDGER)
    DelegationEdge.objects.filter(pk=graph.edges.payments_ledger.pk).update(max_depth=1)
    exchange(graph.payments_client, second, resource=LEDGER)  # refused, same transaction
    # Another transaction, which must not show up.
    other = request_token(graph.caller, resource=ORDERS).json()["access_token"]
    exchange(graph.orders_client, other, resource=PAYMENTS)
    txn = jwt.decode(second, options={"verify_signature": False})["txn"]
    call_command("export_audit", "--txn", txn, "--output", str(tmp_path / "hops.jsonl"), stderr=StringIO())
    events = [json.loads(line) for line in (tmp_path / "hops.jsonl").read_text().splitlines()]
    hops = [e for e in events if e.get("type") == "event"]
    assert [(e["event"], e["details"]["edge"]) for e in hops] == [
        ("token.exchanged", "ms_orders->ms_payments"),
        ("token.exchanged", "ms_payments->ms_ledger"),
        ("token.denied", "ms_payments->ms_ledger"),
    ]
    assert {e["details"]["txn"] for e in hops} == {txn}


def test_the_call_graph_selector_counts_recent_exchanges_and_refusals(exchange, graph, first_token):
    exchange(graph.orders_client, first_token, resource=PAYMENTS)
    exchange(graph.orders_client, first_token, resource=PAYMENTS)
    exchange(graph.orders_client, first_token, resource=PAYMENTS, scope="ledger:write")
    traffic = {
        t.edge.label: t for t in delegation_edges_with_traffic(since=datetime.now(UTC) - timedelta(hours=1))
    }
    assert traffic["ms_orders->ms_payments"].exchanges == 2
    assert traffic["ms_orders->ms_payments"].denials == 1
    assert traffic["ms_orders->ms_payments"].last_exchanged_at is not None
    assert traffic["ms_payments->ms_ledger"].exchanges == 0


def test_the_audit_page_filters_by_txn(auditor_client, exchange, graph, first_token, request_token):
    second = exchange(graph.orders_client, first_token, resource=PAYMENTS).json()["access_token"]
    other = request_token(graph.caller, resource=ORDERS).json()["access_token"]
    exchange(graph.orders_client, other, resource=PAYMENTS)
    txn = jwt.decode(second, options={"verify_signature": False})["txn"]
    page = auditor_client.get(reverse("portal:audit_log"), {"txn": txn})
    assert page.status_code == 200
    assert [row.event.details["txn"] for row in page.context["rows"]] == [txn]
    assert 'name="txn"' in page.content.decode()


# --- through a live server -----------------------------------------------------------------------------


@pytest.fixture
def live_issuer(live_server, settings):
    settings.AUTHPORTAL_ISSUER = live_server.url
    return live_server.url


@pytest.mark.django_db(transaction=True)
def test_two_hops_over_http_with_the_sdk_verified_by_pyjwt_the_sdk_and_node_jose(live_issuer, graph):
    from authportal_client import TokenClient

    def sdk_client(registered):
        return TokenClient(live_issuer, registered.client.client_id, registered.client_secret)

    first = sdk_client(graph.caller).get_token(resource=ORDERS)
    orders = sdk_client(graph.orders_client)
    second = orders.exchange(first, resource=PAYMENTS, scope="payments:charge")
    assert orders.exchange(first, resource=PAYMENTS, scope="payments:charge") == second  # cached
    assert orders.requests_made == 1
    third = sdk_client(graph.payments_client).exchange(second, resource=LEDGER)

    jwks = jwt.PyJWKClient(f"{live_issuer}/.well-known/jwks.json")
    claims = jwt.decode(
        third,
        jwks.get_signing_key_from_jwt(third).key,
        algorithms=["RS256"],
        audience=LEDGER,
        issuer=live_issuer,
    )
    orders_id, payments_id = graph.orders_client.client.client_id, graph.payments_client.client.client_id
    assert claims["sub"] == graph.caller.client.client_id
    assert claims["act"] == {"sub": payments_id, "act": {"sub": orders_id}}

    verified = Verifier(live_issuer, LEDGER).verify(third)
    assert verified.subject == graph.caller.client.client_id
    assert verified.actor_chain == (payments_id, orders_id)
    assert verified.txn == claims["txn"]
    assert AuditEvent.objects.filter(event="token.exchanged", details__txn=claims["txn"]).count() == 2

    outcome = jose_verify(live_issuer, LEDGER, third)
    assert outcome["ok"], outcome
    assert outcome["payload"]["act"] == claims["act"]
    assert outcome["payload"]["txn"] == claims["txn"]


# --- the per-process call graph ------------------------------------------------------------------------


def test_a_known_actors_next_exchange_costs_one_statement_its_audit_row(
    exchange, graph, first_token, django_assert_num_queries
):
    assert exchange(graph.orders_client, first_token, resource=PAYMENTS).status_code == 200
    with django_assert_num_queries(1) as captured:
        assert exchange(graph.orders_client, first_token, resource=PAYMENTS).status_code == 200
    assert "INSERT INTO" in captured.captured_queries[0]["sql"]


def test_an_edge_removed_between_the_decision_and_the_audit_row_discards_the_token(
    exchange, graph, first_token, monkeypatch
):
    import oauth.exchange

    assert exchange(graph.orders_client, first_token, resource=PAYMENTS).status_code == 200
    scopes = oauth.exchange._scopes
    calls = []

    def decide_then_remove(*args):
        calls.append(1)
        if len(calls) == 1:  # decided from the cached graph; now an admin removes the edge in plain SQL
            DelegationEdge.objects.filter(pk=graph.edges.orders_payments.pk).delete()
        return scopes(*args)

    monkeypatch.setattr(oauth.exchange, "_scopes", decide_then_remove)
    refused(exchange(graph.orders_client, first_token, resource=PAYMENTS), "invalid_target", "not declared")
    assert AuditEvent.objects.filter(event="token.exchanged").count() == 1  # the stale one went unrecorded
