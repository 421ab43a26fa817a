"""The API on the production server (granian, as `make run` serves it), called as a CI job would:
a token from /o/token over HTTP, then JSON over HTTP."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.utils import timezone

from api.services import ADMIN_READ, ADMIN_WRITE, api_audience, api_service_ensure
from audit.actor import SYSTEM
from audit.models import AuditEvent
from keys.services import key_rotate
from tests.api.conftest import ci_client_with
from tests.servers import granian_serving, server_environment

pytestmark = pytest.mark.django_db(transaction=True)


def call(
    url: str,
    *,
    token: str | None = None,
    body: dict | None = None,
    basic: str | None = None,
    form: dict | None = None,
) -> tuple[int, dict]:
    headers = {}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if basic:
        headers["Authorization"] = f"Basic {basic}"
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_a_ci_job_registers_a_client_over_http_and_its_secret_is_never_shown_again(tmp_path: Path):
    key_rotate(now=timezone.now())
    api_service_ensure(actor=SYSTEM)
    ci = ci_client_with("ci-live", ADMIN_READ, ADMIN_WRITE)
    with granian_serving(env=server_environment(tmp_path), log=tmp_path / "server.log") as port:
        base = f"http://127.0.0.1:{port}"
        pair = f"{ci.client.client_id}:{ci.client_secret}".encode()
        status, answer = call(
            f"{base}/o/token",
            basic=base64.b64encode(pair).decode(),
            form={"grant_type": "client_credentials", "resource": api_audience()},
        )
        assert status == 200, answer
        token = answer["access_token"]
        status, created = call(f"{base}/api/v1/clients/", token=token, body={"name": "made-over-http"})
        assert status == 201, created
        secret = created["client_secret"]
        status, listed = call(f"{base}/api/v1/clients/?q=made-over-http", token=token)
        assert status == 200 and listed["count"] == 1
        assert secret not in json.dumps(listed)
        status, problem = call(f"{base}/api/v1/clients/", token=token + "x")
        assert status == 401 and problem["status"] == 401
    row = AuditEvent.objects.get(event="client.created", details__name="made-over-http")
    assert row.actor == ci.client.client_id
