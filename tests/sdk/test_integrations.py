"""The framework integrations answer as RFC 6750 says: 401 invalid_token, 403 insufficient_scope."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from authportal_client import Verifier
from authportal_client import asgi as asgi_integration
from authportal_client import wsgi as wsgi_integration
from authportal_client.django import BearerTokenMiddleware, scope_required
from authportal_client.drf import BearerTokenAuthentication, HasScope
from django.http import HttpResponse
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from tests.sdk.conftest import AUDIENCE, ISSUER


@pytest.fixture
def token(mint):
    """A token valid now (wall clock), with the scopes asked for."""

    def make(scope: str = "doctors:read") -> str:
        now = int(time.time())
        return mint("ES256", iat=now, exp=now + 600, scope=scope)

    return make


@pytest.fixture
def live_verifier(jwks_file) -> Verifier:
    return Verifier(ISSUER, AUDIENCE, jwks_file=jwks_file)


@pytest.fixture
def django_settings(settings, jwks_file):
    settings.AUTHPORTAL_CLIENT = {"ISSUER": ISSUER, "AUDIENCE": AUDIENCE, "JWKS_FILE": str(jwks_file)}
    return settings


# Django


@scope_required("doctors:write")
def write_doctor(request):
    return HttpResponse(f"written by {request.claims.client_id}")


def django_call(rf, authorization: str | None):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    return BearerTokenMiddleware(write_doctor)(rf.post("/doctors", **headers))


def test_django_view_runs_for_a_token_with_the_scope(rf, django_settings, token):
    response = django_call(rf, f"Bearer {token('doctors:read doctors:write')}")
    assert response.status_code == 200
    assert response.content == b"written by client-1"


def test_django_answers_401_invalid_token_for_a_bad_token(rf, django_settings, token):
    response = django_call(rf, f"Bearer {token()[:-4]}AAAA")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')
    assert json.loads(response.content)["error"] == "invalid_token"


def test_django_answers_401_without_error_code_when_no_token_is_sent(rf, django_settings):
    response = django_call(rf, None)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_django_answers_403_insufficient_scope_naming_the_scope(rf, django_settings, token):
    response = django_call(rf, f"Bearer {token('doctors:read')}")
    assert response.status_code == 403
    assert (
        response["WWW-Authenticate"]
        == 'Bearer realm="api", error="insufficient_scope", scope="doctors:write"'
    )


# Django REST framework


class DoctorList(APIView):
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasScope("doctors:read")]

    def get(self, request):
        return Response({"caller": request.user.client_id, "scopes": sorted(request.auth.scopes)})


def drf_call(authorization: str | None):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    return DoctorList.as_view()(APIRequestFactory().get("/doctors", **headers))


def test_drf_view_sees_the_caller_and_its_scopes(django_settings, token):
    response = drf_call(f"Bearer {token()}")
    assert response.status_code == 200
    assert response.data == {"caller": "client-1", "scopes": ["doctors:read"]}


def test_drf_answers_401_invalid_token_for_a_bad_token(django_settings):
    response = drf_call("Bearer not.a.token")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_drf_answers_401_with_a_bearer_challenge_when_no_token_is_sent(django_settings):
    response = drf_call(None)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_drf_answers_403_insufficient_scope(django_settings, token):
    response = drf_call(f"Bearer {token('doctors:other')}")
    assert response.status_code == 403
    assert (
        response["WWW-Authenticate"] == 'Bearer realm="api", error="insufficient_scope", scope="doctors:read"'
    )


# ASGI


async def asgi_echo(scope, receive, send):
    claims = scope[asgi_integration.SCOPE_KEY]
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": claims.client_id.encode()})


def asgi_call(app, authorization: str | None) -> tuple[int, dict[bytes, bytes], bytes]:
    headers = [(b"authorization", authorization.encode())] if authorization else []
    scope = {"type": "http", "method": "GET", "path": "/doctors", "headers": headers}
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], dict(sent[0]["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def test_asgi_passes_a_good_token_and_refuses_bad_or_missing_ones(live_verifier, token):
    app = asgi_integration.BearerTokenMiddleware(asgi_echo, live_verifier, required_scopes=["doctors:read"])
    assert asgi_call(app, f"Bearer {token()}") == (200, {}, b"client-1")
    status, headers, _ = asgi_call(app, "Bearer forged.token.x")
    assert status == 401 and b'error="invalid_token"' in headers[b"www-authenticate"]
    assert asgi_call(app, None)[0] == 401
    status, headers, _ = asgi_call(app, f"Bearer {token('college:read')}")
    assert status == 403 and b'error="insufficient_scope"' in headers[b"www-authenticate"]


def test_asgi_lets_lifespan_and_exempt_paths_through(live_verifier):
    app = asgi_integration.BearerTokenMiddleware(asgi_echo, live_verifier, exempt_paths=["/health"])
    reached: list[str] = []

    async def inner(scope, receive, send):
        reached.append(scope["type"])

    app.app = inner
    asyncio.run(app({"type": "lifespan"}, None, None))
    asyncio.run(app({"type": "http", "path": "/health", "headers": []}, None, None))
    assert reached == ["lifespan", "http"]


# WSGI


def wsgi_echo(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ[wsgi_integration.ENVIRON_KEY].client_id.encode()]


def wsgi_call(app, authorization: str | None) -> tuple[str, dict[str, str], bytes]:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/doctors"}
    if authorization:
        environ["HTTP_AUTHORIZATION"] = authorization
    seen: dict = {}

    def start_response(status, headers):
        seen.update(status=status, headers=dict(headers))

    body = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], body


def test_wsgi_passes_a_good_token_and_refuses_bad_or_missing_ones(live_verifier, token):
    app = wsgi_integration.BearerTokenMiddleware(wsgi_echo, live_verifier, required_scopes=["doctors:read"])
    assert wsgi_call(app, f"Bearer {token()}")[::2] == ("200 OK", b"client-1")
    status, headers, body = wsgi_call(app, "Bearer forged.token.x")
    assert status == "401 Unauthorized" and 'error="invalid_token"' in headers["WWW-Authenticate"]
    assert json.loads(body)["error"] == "invalid_token"
    assert wsgi_call(app, "Basic dXNlcjpwYXNz")[0] == "401 Unauthorized"
    status, headers, _ = wsgi_call(app, f"Bearer {token('college:read')}")
    assert status == "403 Forbidden" and 'scope="doctors:read"' in headers["WWW-Authenticate"]
