"""A NUL or the literal text `\\u0000` in any field of a token request: an RFC 6749 answer and exactly one row.

Run without a surrounding transaction, so that on PostgreSQL each row takes the token endpoint's own
write path (the in-flight INSERT, audit/inflight.py); tests/audit/test_hostile_text.py covers the ORM
path too.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from audit.models import AuditEvent
from tests.conftest import basic_auth

pytestmark = pytest.mark.django_db(transaction=True)

DOCTORS = "https://doctors.internal"
NUL = "\x00"
LITERAL = "\\u0000"  # a backslash, then u0000: six ordinary characters


def post(client, body: dict[str, str], authorization: str | None = None):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    data = "&".join(f"{quote(name)}={quote(value, safe='')}" for name, value in body.items())
    return client.post("/o/token", data=data, content_type="application/x-www-form-urlencoded", **extra)


def credentials(registered) -> str:
    return basic_auth(registered.client.client_id, registered.client_secret)


def the_one_denial(response, status: int, error: str) -> AuditEvent:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == error
    row = AuditEvent.objects.get(event="token.denied")  # exactly one
    assert row.details["error"] == error
    stored = [row.actor, row.subject, row.request_id, str(row.details)]
    assert not any(NUL in text for text in stored)
    return row


@pytest.mark.parametrize("text", [NUL, LITERAL], ids=["NUL", "literal"])
def test_hostile_text_in_the_resource_is_stored_escaped_in_the_reason(client, ms_admin, text):
    resource = f"{DOCTORS}/{text}"
    response = post(client, {"grant_type": "client_credentials", "resource": resource}, credentials(ms_admin))
    row = the_one_denial(response, 400, "invalid_target")
    shown = resource.replace(NUL, "␀")
    assert f"The resource {shown} is unknown" in row.details["reason"]
    assert row.actor == ms_admin.client.client_id


@pytest.mark.parametrize("text", [NUL, LITERAL], ids=["NUL", "literal"])
def test_hostile_text_in_the_scope_is_invalid_scope_with_its_row(client, ms_admin, text):
    response = post(
        client, {"grant_type": "client_credentials", "scope": f"doctors:read{text}"}, credentials(ms_admin)
    )
    the_one_denial(response, 400, "invalid_scope")


@pytest.mark.parametrize("text", [NUL, LITERAL], ids=["NUL", "literal"])
def test_hostile_text_in_the_grant_type_is_unsupported_grant_type_with_its_row(client, ms_admin, text):
    response = post(client, {"grant_type": f"client_credentials{text}"}, credentials(ms_admin))
    row = the_one_denial(response, 400, "unsupported_grant_type")
    assert row.actor == ms_admin.client.client_id


@pytest.mark.parametrize("text", [NUL, LITERAL], ids=["NUL", "literal"])
def test_hostile_text_in_a_client_id_in_the_body_is_invalid_client_with_its_row(client, ms_admin, text):
    body = {"grant_type": "client_credentials", "client_id": f"ms{text}admin", "client_secret": "x"}
    the_one_denial(post(client, body), 401, "invalid_client")


@pytest.mark.parametrize("text", [NUL, LITERAL], ids=["NUL", "literal"])
def test_hostile_text_in_a_client_id_in_the_basic_header_is_invalid_client_with_its_row(
    client, ms_admin, text
):
    response = post(client, {"grant_type": "client_credentials"}, basic_auth(f"ms{text}admin", "x"))
    the_one_denial(response, 401, "invalid_client")
