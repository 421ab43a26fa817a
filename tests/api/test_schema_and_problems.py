"""The OpenAPI document is valid and served with vendored docs; every error is an RFC 9457 problem;
the API fuzzed from its own schema answers no 5xx."""

from __future__ import annotations

import json
import os
from urllib.parse import urlencode

import pytest
import schemathesis
from django.http import HttpResponse
from django.test import Client as HttpClient
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import Case
from schemathesis.core import NOT_SET

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
# Per operation: few, to keep the suite fast; bench/api_fuzz sets API_FUZZ_EXAMPLES=500.
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "6"))


def test_the_schema_is_valid_openapi_3_and_documents_every_endpoint(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    validate_schema(schema)  # drf-spectacular's OpenAPI 3 JSON-schema validation
    assert schema["openapi"].startswith("3.")
    assert {"/api/v1/services/", "/api/v1/clients/{client_id}/secret/", "/api/v1/audit/events/"} <= set(
        schema["paths"]
    )
    assert set(schema["components"]["securitySchemes"]) == {"bearerToken", "portalSession"}


def test_the_docs_page_loads_only_vendored_assets_under_our_csp(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "cdn" not in page.lower() and "https://" not in page.replace("https://swagger", "")
    assert "static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "<script>" not in page  # the split view's start-up script is a file, which the CSP allows
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")


@pytest.mark.parametrize(
    ("method", "path", "status", "kwargs"),
    [
        ("get", "/api/v1/services/", 401, {}),
        ("get", "/api/v1/no-such-thing/", 404, {}),
        ("get", "/api/v1/services/nope/", 404, {}),
        ("put", "/api/v1/services/", 405, {"data": "{}", "content_type": "application/json"}),
        (
            "post",
            "/api/v1/services/",
            415,
            {"data": "name=x", "content_type": "application/x-www-form-urlencoded"},
        ),
        ("post", "/api/v1/services/", 400, {"data": "{not json", "content_type": "application/json"}),
        ("post", "/api/v1/services/", 400, {"data": '{"name": "x"}', "content_type": "application/json"}),
    ],
)
def test_every_error_is_a_problem_document(as_ci, method, path, status, kwargs):
    if status == 401:
        as_ci.defaults.pop("HTTP_AUTHORIZATION")
    response = getattr(as_ci, method)(path, **kwargs)
    assert response.status_code == status
    assert response["Content-Type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    if status == 400 and "name" in kwargs.get("data", ""):
        assert {"field": "audience", "message": "This field is required."} in problem["errors"]


def test_too_many_requests_is_a_problem_with_retry_after(as_ci, settings):
    settings.AUTHPORTAL_API_RATE_PER_MINUTE = 2
    statuses = [as_ci.get("/api/v1/keys/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    response = as_ci.get("/api/v1/keys/")
    assert response["Content-Type"] == PROBLEM and int(response["Retry-After"]) > 0


def send(http: HttpClient, case: Case) -> HttpResponse:
    """A schemathesis case through Django's test client, in the test's transaction (WSGI would close it)."""
    query = urlencode(case.query or {}, doseq=True)
    body = b""
    if case.body is not NOT_SET and case.body is not None:
        body = json.dumps(case.body).encode() if case.media_type in (None, "application/json") else case.body
    return http.generic(
        case.method,
        case.formatted_path + (f"?{query}" if query else ""),
        data=body,
        content_type=case.media_type or "application/json",
    )


def test_the_api_fuzzed_from_its_own_schema_never_answers_5xx(as_ci, ms_admin):
    """A few examples per operation, as an admin so that writes go through (bench/api_fuzz runs more)."""
    document = json.loads(as_ci.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    schema = schemathesis.openapi.from_dict(document)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def answers_no_5xx(case: Case) -> None:
            response = send(as_ci, case)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code}"
            if response.status_code >= 400:
                assert response["Content-Type"] == PROBLEM, (
                    f"{case.method} {case.formatted_path}: not a problem"
                )

        try:
            answers_no_5xx()
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0])
    assert not failures, "\n".join(failures)


def test_a_bug_is_a_problem_document_too_and_says_nothing_of_it(as_ci, monkeypatch):
    """What leaves the process is mocked nowhere; here a fault is planted in our own view on purpose."""
    from api.views import keys

    def broken(self, request):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(keys.KeyList, "get", broken)
    response = as_ci.get("/api/v1/keys/")
    assert response.status_code == 500
    assert response["Content-Type"] == PROBLEM
    assert "secret internals" not in response.content.decode()
