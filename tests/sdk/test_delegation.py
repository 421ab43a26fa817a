"""The SDK's side of delegation: TokenClient.exchange, Claims.subject/actor_chain/txn, and
`requires(scope=…, via=[…])` in the Django, DRF, ASGI and WSGI integrations."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs

import pytest
from authportal_client import JWT_TOKEN_TYPE, InvalidToken, TokenClient, Verifier
from authportal_client import asgi as asgi_integration
from authportal_client import wsgi as wsgi_integration
from authportal_client.django import BearerTokenMiddleware, requires
from authportal_client.drf import BearerTokenAuthentication, Requires
from django.http import HttpResponse
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from tests.sdk.conftest import AUDIENCE, ISSUER, Clock
from tests.sdk.fakes import fake_portal
from tests.sdk.test_integrations import asgi_call, wsgi_call

ORDERS, PAYMENTS = "orders-client", "payments-client"


@pytest.fixture
def delegated(mint):
    """A token as ms_payments would hold it: for `sub` ms_admin, exchanged by orders then payments."""

    def make(scope: str = "doctors:read", act=None, **claims) -> str:
        now = int(time.time())
        return mint("ES256", iat=now, exp=now + 600, scope=scope, sub="admin-client", act=act, **claims)

    return make


CHAIN = {"sub": PAYMENTS, "act": {"sub": ORDERS}}


def test_claims_name_the_subject_the_actor_chain_nearest_first_and_the_txn(verifier, mint):
    claims = verifier.verify(mint(sub="admin-client", client_id=PAYMENTS, act=CHAIN, txn="t-1"))
    assert claims.subject == "admin-client"
    assert claims.actor_chain == (PAYMENTS, ORDERS)
    assert claims.txn == "t-1"
    direct = verifier.verify(mint())
    assert direct.actor_chain == () and direct.txn is None and direct.subject == "client-1"


@pytest.mark.parametrize(
    "changes",
    [
        {"act": "orders"},
        {"act": {"client_id": ORDERS}},
        {"act": {"sub": ORDERS, "act": ["x"]}},
        {"act": {"sub": ""}},
        {"txn": 7},
        {"txn": ""},
    ],
)
def test_a_malformed_act_or_txn_is_refused(verifier, mint, changes):
    with pytest.raises(InvalidToken, match="malformed"):
        verifier.verify(mint(**changes))


def test_an_act_nested_beyond_reason_is_refused(verifier, mint):
    act: dict = {"sub": "a0"}
    for index in range(1, 12):
        act = {"sub": f"a{index}", "act": act}
    with pytest.raises(InvalidToken, match="malformed act"):
        verifier.verify(mint(act=act))


# TokenClient.exchange


@pytest.fixture
def portal():
    with fake_portal() as portal:
        yield portal


def test_exchange_posts_rfc8693_and_caches_per_subject_token_and_target(portal):
    clock = Clock(1000.0)
    client = TokenClient(portal.url, "orders", "secret", clock=clock, refresh_margin=60)
    first = client.exchange("subject-a", resource="https://payments.internal", scope="payments:charge")
    assert parse_qs(portal.token_bodies[0]) == {
        "grant_type": ["urn:ietf:params:oauth:grant-type:token-exchange"],
        "subject_token": ["subject-a"],
        "subject_token_type": ["urn:ietf:params:oauth:token-type:access_token"],
        "requested_token_type": ["urn:ietf:params:oauth:token-type:access_token"],
        "resource": ["https://payments.internal"],
        "scope": ["payments:charge"],
    }
    assert (
        client.exchange("subject-a", resource="https://payments.internal", scope="payments:charge") == first
    )
    assert (
        client.exchange("subject-b", resource="https://payments.internal", scope="payments:charge") != first
    )
    assert client.exchange("subject-a", resource="https://ledger.internal") != first
    assert portal.count("/o/token") == 3
    clock.now += 540  # the exchanged token (600 s, never past its subject's exp) is near its end
    assert (
        client.exchange("subject-a", resource="https://payments.internal", scope="payments:charge") != first
    )
    assert portal.count("/o/token") == 4


def test_exchange_sends_a_user_token_as_a_jwt_and_caches_it_apart(portal):
    client = TokenClient(portal.url, "gateway", "secret", clock=Clock(1000.0))
    as_user = client.exchange(
        "user-token", resource="https://orders.internal", subject_token_type=JWT_TOKEN_TYPE
    )
    assert parse_qs(portal.token_bodies[0])["subject_token_type"] == ["urn:ietf:params:oauth:token-type:jwt"]
    assert parse_qs(portal.token_bodies[0])["requested_token_type"] == [
        "urn:ietf:params:oauth:token-type:access_token"
    ]
    assert (
        client.exchange("user-token", resource="https://orders.internal", subject_token_type=JWT_TOKEN_TYPE)
        == as_user
    )
    assert portal.count("/o/token") == 1
    # The same string sent as an access token is another request, cached apart.
    assert client.exchange("user-token", resource="https://orders.internal") != as_user
    assert parse_qs(portal.token_bodies[1])["subject_token_type"] == [
        "urn:ietf:params:oauth:token-type:access_token"
    ]


def test_a_refused_exchange_raises_with_the_rfc_error(portal):
    portal.token_responses.append(
        (400, {"error": "invalid_target", "error_description": "no such edge is declared"}, {})
    )
    client = TokenClient(portal.url, "orders", "secret", sleep=lambda s: None)
    with pytest.raises(Exception, match="no such edge") as raised:
        client.exchange("subject-a", resource="https://ledger.internal")
    assert raised.value.error == "invalid_target"


# Django


@pytest.fixture
def django_settings(settings, jwks_file):
    settings.AUTHPORTAL_CLIENT = {"ISSUER": ISSUER, "AUDIENCE": AUDIENCE, "JWKS_FILE": str(jwks_file)}
    return settings


@requires(scope="doctors:read", via=[PAYMENTS, ORDERS])
def via_payments(request):
    return HttpResponse(f"for {request.claims.subject}")


@requires(scope="doctors:read", via=[])
def direct_only(request):
    return HttpResponse("direct")


def django_call(rf, view, token: str | None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return BearerTokenMiddleware(view)(rf.get("/doctors", **headers))


def test_django_requires_checks_the_scope_and_the_exact_actor_chain(rf, django_settings, delegated):
    response = django_call(rf, via_payments, delegated(act=CHAIN))
    assert response.status_code == 200 and response.content == b"for admin-client"
    wrong = django_call(rf, via_payments, delegated(act={"sub": ORDERS}))
    assert wrong.status_code == 403
    assert json.loads(wrong.content)["error"] == "access_denied"
    assert wrong["WWW-Authenticate"] == 'Bearer realm="api"'
    assert django_call(rf, via_payments, delegated(scope="college:read", act=CHAIN)).status_code == 403
    assert django_call(rf, via_payments, None).status_code == 401
    assert django_call(rf, direct_only, delegated()).status_code == 200
    assert django_call(rf, direct_only, delegated(act=CHAIN)).status_code == 403


# DRF


class Charge(APIView):
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [Requires(scope="doctors:read", via=[PAYMENTS, ORDERS])]

    def get(self, request):
        return Response({"for": request.auth.subject, "via": list(request.auth.actor_chain)})


def drf_call(token: str):
    return Charge.as_view()(APIRequestFactory().get("/charge", HTTP_AUTHORIZATION=f"Bearer {token}"))


def test_drf_requires_checks_the_scope_and_the_exact_actor_chain(django_settings, delegated):
    response = drf_call(delegated(act=CHAIN))
    assert response.status_code == 200
    assert response.data == {"for": "admin-client", "via": [PAYMENTS, ORDERS]}
    denied = drf_call(delegated(act={"sub": ORDERS}))
    assert denied.status_code == 403 and denied.data["detail"].code == "access_denied"
    short = drf_call(delegated(scope="college:read", act=CHAIN))
    assert short.status_code == 403 and 'error="insufficient_scope"' in short["WWW-Authenticate"]


# ASGI and WSGI


async def asgi_echo(scope, receive, send):
    claims = scope[asgi_integration.SCOPE_KEY]
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": claims.subject.encode()})


def test_asgi_middleware_and_requires_check_the_actor_chain(jwks_file, delegated):
    verifier = Verifier(ISSUER, AUDIENCE, jwks_file=jwks_file)
    app = asgi_integration.BearerTokenMiddleware(asgi_echo, verifier, via=[PAYMENTS, ORDERS])
    assert asgi_call(app, f"Bearer {delegated(act=CHAIN)}") == (200, {}, b"admin-client")
    assert asgi_call(app, f"Bearer {delegated()}")[0] == 403
    routed = asgi_integration.BearerTokenMiddleware(
        asgi_integration.requires(scope="doctors:read", via=[PAYMENTS, ORDERS])(asgi_echo), verifier
    )
    assert asgi_call(routed, f"Bearer {delegated(act=CHAIN)}")[0] == 200
    status, headers, body = asgi_call(routed, f"Bearer {delegated(act={'sub': ORDERS})}")
    assert status == 403 and json.loads(body)["error"] == "access_denied"


def wsgi_echo(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ[wsgi_integration.ENVIRON_KEY].subject.encode()]


def wsgi_route(environ, start_response):
    denied = wsgi_integration.requirement_response(start_response, environ, scope="doctors:read", via=[])
    return denied if denied is not None else wsgi_echo(environ, start_response)


def test_wsgi_middleware_and_requirement_response_check_the_actor_chain(jwks_file, delegated):
    verifier = Verifier(ISSUER, AUDIENCE, jwks_file=jwks_file)
    app = wsgi_integration.BearerTokenMiddleware(wsgi_echo, verifier, via=[PAYMENTS, ORDERS])
    assert wsgi_call(app, f"Bearer {delegated(act=CHAIN)}")[::2] == ("200 OK", b"admin-client")
    assert wsgi_call(app, f"Bearer {delegated(act={'sub': ORDERS})}")[0] == "403 Forbidden"
    direct = wsgi_integration.BearerTokenMiddleware(wsgi_route, verifier)
    assert wsgi_call(direct, f"Bearer {delegated()}")[0] == "200 OK"
    assert wsgi_call(direct, f"Bearer {delegated(act=CHAIN)}")[0] == "403 Forbidden"
