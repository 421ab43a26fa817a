"""Every token handed out has exactly one committed token.issued row, and none is handed out without it."""

from __future__ import annotations

import jwt
import pytest
from django.db import connection, connections

from audit.models import AuditEvent

DOCTORS = "https://doctors.internal"


def committed_issued_jtis() -> list[str]:
    # Read on a second connection: only rows that are committed are visible there.
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT details FROM audit_auditevent WHERE event = 'token.issued'")
            rows = cursor.fetchall()
    finally:
        other.close()
    import json

    return [(json.loads(d) if isinstance(d, str) else d)["jti"] for (d,) in rows]


@pytest.mark.django_db(transaction=True)
def test_every_token_response_has_exactly_one_committed_issued_event_with_its_jti(request_token, ms_admin):
    jtis = []
    for params in (
        {"resource": DOCTORS},
        {"scope": "college:read"},
        {"resource": DOCTORS, "scope": "doctors:read"},
    ):
        response = request_token(ms_admin, **params)
        assert response.status_code == 200
        jtis.append(jwt.decode(response.json()["access_token"], options={"verify_signature": False})["jti"])
    request_token(ms_admin, scope="doctors:write")  # refused: no token, so no token.issued
    committed = committed_issued_jtis()
    assert sorted(committed) == sorted(jtis)
    assert AuditEvent.objects.filter(event="token.denied").count() == 1


@pytest.mark.django_db(transaction=True)
def test_no_token_is_sent_when_the_audit_insert_fails_in_the_database(request_token, ms_admin, monkeypatch):
    request_token(ms_admin, resource=DOCTORS)  # warm: the key exists, the insert works
    # The real INSERT reaches the database and fails there (a table that does not exist).
    monkeypatch.setattr(
        "audit.services._insert_sql", lambda: "INSERT INTO audit_missing_table (x) VALUES (1)"
    )
    response = request_token(ms_admin, resource=DOCTORS)
    assert response.status_code == 503
    assert "access_token" not in response.json()
    monkeypatch.undo()
    assert len(committed_issued_jtis()) == 1
    if connection.vendor == "postgresql":
        assert not connection.in_atomic_block  # the failed statement left no broken transaction behind
