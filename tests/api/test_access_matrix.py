"""Every API URL × method × caller: anonymous, outsider, auditor and admin sessions, and tokens with
each API scope. Admins and auditors have the rights they have in the portal (portal/roles.py)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from django.middleware.csrf import get_token
from django.test import Client as HttpClient
from django.urls import resolve

from api.services import ADMIN_READ, ADMIN_WRITE, AUDIT_READ
from clients.models import Client
from keys.models import SigningKey
from tests.api.conftest import ci_client_with

pytestmark = pytest.mark.django_db

READ, WRITE, AUDIT = "read", "write", "audit"

# Who may do what: the portal's roles, and what each token scope gives.
ALLOWED = {
    "anonymous": set(),
    "outsider": set(),
    "auditor": {READ, AUDIT},
    "admin": {READ, WRITE, AUDIT},
    "token admin:read": {READ},
    "token admin:write": {WRITE},
    "token audit:read": {AUDIT},
}


MATRIX = tomllib.loads((Path(__file__).parent / "access_matrix.toml").read_text())


def endpoints(client_id: str, kid: str) -> list[tuple[str, str, str]]:
    """(method, url, right needed), from access_matrix.toml, for this client and key."""
    return [
        (method, url.format(client_id=client_id, kid=kid), right)
        for right, calls in MATRIX.items()
        for method, url in (call.split() for call in calls)
    ]


@pytest.fixture
def callers(api_service, ms_admin, admin_user, auditor_user, outsider_user, api_token):
    made: dict[str, HttpClient] = {"anonymous": HttpClient()}
    for name, user in (("outsider", outsider_user), ("auditor", auditor_user), ("admin", admin_user)):
        browser = HttpClient(enforce_csrf_checks=True)
        browser.force_login(user)
        made[name] = browser
    for scope in (ADMIN_READ, ADMIN_WRITE, AUDIT_READ):
        registered = ci_client_with(f"ci-{scope.replace(':', '-')}", scope)
        made[f"token {scope}"] = HttpClient(HTTP_AUTHORIZATION=f"Bearer {api_token(registered)}")
    return made


def csrf_headers(browser: HttpClient) -> dict[str, str]:
    """What the portal's JavaScript would send: the CSRF cookie's token in X-CSRFToken."""
    response = browser.get("/login/")
    token = get_token(response.wsgi_request)
    browser.cookies["csrftoken"] = response.cookies.get("csrftoken", browser.cookies.get("csrftoken"))
    return {
        "HTTP_X_CSRFTOKEN": browser.cookies["csrftoken"].value if "csrftoken" in browser.cookies else token
    }


def test_every_endpoint_answers_each_caller_as_its_role_or_scope_allows(callers, ms_admin):
    kid = SigningKey.objects.get(state="active").kid
    client_id = ms_admin.client.client_id
    failures = []
    for name, http in callers.items():
        headers = csrf_headers(http) if name in ("outsider", "auditor", "admin") else {}
        for method, url, right in endpoints(client_id, kid):
            body = "[]" if method != "GET" else None  # not an object: refused as 400 once allowed
            kwargs = {"data": body, "content_type": "application/json"} if body is not None else {}
            response = getattr(http, method.lower())(url, **kwargs, **headers)
            if name == "anonymous":
                expected = {401}
            elif right in ALLOWED[name]:
                expected = {"GET": {200}, "DELETE": {404}}.get(method, {400})
            else:
                expected = {403}
            if response.status_code not in expected:
                failures.append(f"{name} {method} {url}: {response.status_code}, expected {sorted(expected)}")
            elif response.status_code >= 400:
                assert response["Content-Type"] == "application/problem+json"
    assert not failures, "\n".join(failures)
    assert Client.objects.filter(client_id=client_id).exists()  # no write went through


def test_the_matrix_covers_every_api_url():
    from api.urls import v1

    covered = {resolve(url).url_name for _method, url, _right in endpoints("some-client", "some-kid")}
    assert covered == {pattern.name for pattern in v1}


def test_a_session_write_without_the_csrf_token_is_refused(api_service, admin_user):
    browser = HttpClient(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    response = browser.post("/api/v1/services/", {"name": "x"}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
