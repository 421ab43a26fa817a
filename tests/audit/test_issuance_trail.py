"""Every token handed out has exactly one committed token.issued row, and none is handed out without it."""

from __future__ import annotations

from contextlib import contextmanager

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


@contextmanager
def audit_inserts_fail(statement: str = "RAISE EXCEPTION 'disk full'"):
    """A trigger in the database refuses every new audit row: the failure happens where it would."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION audit_insert_fails() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN {statement}; RETURN NEW; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER audit_insert_fails BEFORE INSERT ON audit_auditevent "
                "FOR EACH ROW EXECUTE FUNCTION audit_insert_fails()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER audit_insert_fails BEFORE INSERT ON audit_auditevent "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "DROP TRIGGER audit_insert_fails"
                + (" ON audit_auditevent" if connection.vendor == "postgresql" else "")
            )
            if connection.vendor == "postgresql":
                cursor.execute("DROP FUNCTION audit_insert_fails()")


@pytest.mark.django_db(transaction=True)
def test_no_token_is_sent_when_the_audit_insert_fails_in_the_database(request_token, ms_admin):
    request_token(ms_admin, resource=DOCTORS)  # warm: the key exists, the insert works
    with audit_inserts_fail():
        response = request_token(ms_admin, resource=DOCTORS)
        assert response.status_code == 503
        assert response.json()["error"] == "temporarily_unavailable"
        assert "access_token" not in response.json()
    assert len(committed_issued_jtis()) == 1
    if connection.vendor == "postgresql":
        assert not connection.in_atomic_block  # the failed statement left no broken transaction behind
    assert request_token(ms_admin, resource=DOCTORS).status_code == 200  # and the connection still works
    assert len(committed_issued_jtis()) == 2


@pytest.mark.django_db(transaction=True)
def test_a_refusal_whose_row_cannot_be_written_answers_503_not_an_unrecorded_refusal(request_token, ms_admin):
    with audit_inserts_fail():
        response = request_token(ms_admin, scope="doctors:write")
        assert response.status_code == 503
        assert response.json()["error"] == "temporarily_unavailable"
    assert not AuditEvent.objects.filter(event="token.denied").exists()
    assert request_token(ms_admin, scope="doctors:write").status_code == 400  # and the next one is recorded
    assert AuditEvent.objects.filter(event="token.denied").count() == 1


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the in-flight INSERT is PostgreSQL's (libpq); SQLite writes inline",
)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_the_audit_insert_is_in_flight_while_the_token_is_signed(request_token, ms_admin, monkeypatch):
    from psycopg import pq

    from keys.tokens import Signer

    seen = []
    sign = Signer.sign

    def spying_sign(self, claims):
        seen.append((claims["jti"], connection.connection.pgconn.transaction_status))
        return sign(self, claims)

    monkeypatch.setattr(Signer, "sign", spying_sign)
    response = request_token(ms_admin, resource=DOCTORS)
    assert response.status_code == 200
    jti = jwt.decode(response.json()["access_token"], options={"verify_signature": False})["jti"]
    assert seen == [(jti, pq.TransactionStatus.ACTIVE)]  # the INSERT was sent, its result not yet read
    assert committed_issued_jtis() == [jti]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_commit_slower_than_the_timeout_answers_503_and_the_next_request_reconnects(
    request_token, ms_admin, settings
):
    request_token(ms_admin, resource=DOCTORS)
    settings.AUTHPORTAL_AUDIT_WRITE_TIMEOUT_SECONDS = 0.2
    with audit_inserts_fail("PERFORM pg_sleep(1)"):
        response = request_token(ms_admin, resource=DOCTORS)
        assert response.status_code == 503
        assert "access_token" not in response.json()
    assert request_token(ms_admin, resource=DOCTORS).status_code == 200


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_when_signing_fails_the_connection_is_still_usable(ms_admin, monkeypatch):
    from clients.selectors import client_authenticate
    from keys.tokens import Signer
    from oauth.services import token_issue, token_targets_resolve

    client = client_authenticate(client_id=ms_admin.client.client_id, client_secret=ms_admin.client_secret)
    targets = token_targets_resolve(granted=client.granted, scopes=None, resources=[DOCTORS])

    def broken_sign(self, claims):
        raise RuntimeError("signing failed")

    monkeypatch.setattr(Signer, "sign", broken_sign)
    with pytest.raises(RuntimeError):
        token_issue(client=client, targets=targets, remote_addr=None, request_id="r")
    # The INSERT's result was read on the way out: the connection takes the next query.
    assert AuditEvent.objects.filter(event="token.issued").count() == 1


@postgresql_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "prepared", [True, False], ids=["prepared", "unprepared, for old transaction poolers"]
)
def test_the_audit_insert_is_prepared_once_per_connection_unless_told_not_to(
    request_token, ms_admin, settings, prepared
):
    settings.AUTHPORTAL_AUDIT_PREPARED_INSERT = prepared
    connection.close()  # a connection of its own, with no statement prepared by an earlier test
    jtis = []
    for _ in range(3):
        response = request_token(ms_admin, resource=DOCTORS)
        assert response.status_code == 200
        jtis.append(jwt.decode(response.json()["access_token"], options={"verify_signature": False})["jti"])
    assert sorted(committed_issued_jtis()) == sorted(jtis)
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE name LIKE 'authportal_audit_%%'")
        names = [name for (name,) in cursor.fetchall()]
    assert names == (["authportal_audit_insert_if_registry_and_signing_key"] if prepared else [])


@pytest.mark.django_db(transaction=True)
def test_a_prepare_that_gets_no_answer_from_a_vanishing_server_answers_503_and_no_token(
    request_token, ms_admin, monkeypatch
):
    # Seen under load with PostgreSQL stopped: the PREPARE's connection closed with no result at all.
    import audit.inflight

    if connection.vendor != "postgresql":
        pytest.skip("the in-flight INSERT is PostgreSQL's")
    connection.close()  # nothing prepared yet on the next connection
    monkeypatch.setattr(audit.inflight, "_results", lambda wrapper, pgconn, timeout: [])
    response = request_token(ms_admin, resource=DOCTORS)
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert committed_issued_jtis() == []
