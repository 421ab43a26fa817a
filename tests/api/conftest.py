"""The API's cast: the API registered as a service, CI clients holding its scopes, real tokens."""

from __future__ import annotations

import pytest
from django.utils import timezone

from api.authentication import api_verifier_forget
from api.services import (
    ADMIN_READ,
    ADMIN_WRITE,
    API_SERVICE_NAME,
    AUDIT_READ,
    api_audience,
    api_service_ensure,
)
from audit.actor import SYSTEM
from clients.services import GrantSpec, RegisteredClient, client_register
from keys.services import key_rotate


@pytest.fixture(autouse=True)
def fresh_verifier():
    api_verifier_forget()
    yield
    api_verifier_forget()


@pytest.fixture
def api_service(db):
    key_rotate(now=timezone.now())  # a signing key, published
    return api_service_ensure(actor=SYSTEM)[0]


def ci_client_with(name: str, *scopes: str) -> RegisteredClient:
    return client_register(name=name, grants=[GrantSpec(API_SERVICE_NAME, scope) for scope in scopes])


@pytest.fixture
def ci_admin(api_service) -> RegisteredClient:
    return ci_client_with("ci-admin", ADMIN_READ, ADMIN_WRITE, AUDIT_READ)


@pytest.fixture
def api_token(request_token):
    """A real access token for the API from /o/token (client_credentials, resource ISSUER/api)."""

    def token(registered: RegisteredClient, scope: str | None = None) -> str:
        params = {"resource": api_audience()}
        if scope:
            params["scope"] = scope
        response = request_token(registered, **params)
        assert response.status_code == 200, response.content
        return response.json()["access_token"]

    return token


@pytest.fixture
def as_ci(client, ci_admin, api_token):
    """The Django test client carrying ci-admin's bearer token on every request."""
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {api_token(ci_admin)}"
    return client
