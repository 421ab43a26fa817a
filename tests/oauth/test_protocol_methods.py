"""Protocol URLs answer every method they do not serve with RFC 6749 JSON: 405 and an Allow header,
never Django's CSRF page. Methods are case-sensitive (RFC 9110 §9.1): `post` is not POST."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from django.urls import get_callable

from audit.models import AuditEvent
from tests.conftest import basic_auth

GET_ENDPOINTS = ["/.well-known/jwks.json", "/.well-known/oauth-authorization-server"]
POST_ENDPOINTS = ["/o/token", "/o/token/"]
NOT_SERVED_BY_GET_ENDPOINTS = ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "BREW", "get", "head"]
NOT_SERVED_BY_POST_ENDPOINTS = ["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "BREW", "post", "Post"]


def csrf_failure_view():
    """The view Django's CSRF middleware answers a failed check with."""
    return get_callable(settings.CSRF_FAILURE_VIEW)


@pytest.fixture
def csrf_checking_client() -> Client:
    # The test client skips CSRF checks unless asked; a real server does not.
    return Client(enforce_csrf_checks=True)


def assert_405_json(response, allow: str) -> None:
    assert response.status_code == 405, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert response["Allow"] == allow
    if response.content:  # HEAD answers have no body
        assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("path", GET_ENDPOINTS)
@pytest.mark.parametrize("method", NOT_SERVED_BY_GET_ENDPOINTS)
def test_a_discovery_url_answers_405_json_with_allow_for_a_method_it_does_not_serve(
    csrf_checking_client, db, path, method
):
    response = csrf_checking_client.generic(method, path, data="x=1", content_type="text/plain")
    assert_405_json(response, "GET, HEAD")


@pytest.mark.parametrize("path", GET_ENDPOINTS)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_discovery_url_serves_get_and_head(client, db, path, method):
    response = client.generic(method, path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/")


@pytest.mark.parametrize("path", POST_ENDPOINTS)
@pytest.mark.parametrize("method", NOT_SERVED_BY_POST_ENDPOINTS)
def test_the_token_endpoint_answers_405_json_with_allow_post_and_audits_it(
    csrf_checking_client, ms_admin, path, method
):
    response = csrf_checking_client.generic(
        method,
        path,
        data="grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic_auth(ms_admin.client.client_id, ms_admin.client_secret),
        HTTP_X_REQUEST_ID="wrong-method",
    )
    assert_405_json(response, "POST")
    row = AuditEvent.objects.get(request_id="wrong-method")
    assert (row.event, row.details["error"]) == ("token.denied", "invalid_request")
    assert not AuditEvent.objects.filter(event="token.issued").exists()


def test_a_lower_case_post_gets_no_token(client, ms_admin):
    response = client.generic(
        "post",
        "/o/token",
        data="grant_type=client_credentials&resource=https%3A%2F%2Fdoctors.internal",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic_auth(ms_admin.client.client_id, ms_admin.client_secret),
    )
    assert_405_json(response, "POST")
    assert "access_token" not in response.json()


@pytest.mark.parametrize("path", ["/o/token", "/.well-known/jwks.json", "/o/anything"])
def test_a_csrf_failure_on_a_protocol_path_answers_json(path):
    request = RequestFactory().post(path)
    response = csrf_failure_view()(request, reason="CSRF cookie not set.")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert json.loads(response.content)["error"] == "invalid_request"


def test_a_csrf_failure_on_a_portal_page_is_still_djangos_page():
    response = csrf_failure_view()(RequestFactory().post("/login/"), reason="CSRF cookie not set.")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
