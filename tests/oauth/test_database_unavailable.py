"""Every protocol URL answers 503 `temporarily_unavailable` with Retry-After, never a 500, whatever
the database fails with: Django's exception base is `django.db.Error`, and InterfaceError (a
connection closed under us) is not a DatabaseError."""

from __future__ import annotations

import pytest
from django import db
from django.db import connection

from keys.services import signing_key_active


def every_database_error() -> list[type[db.Error]]:
    found, pending = [], [db.Error]
    while pending:
        error = pending.pop()
        found.append(error)
        pending.extend(error.__subclasses__())
    return sorted({e for e in found if e.__module__ == "django.db.utils"}, key=lambda e: e.__name__)


def assert_temporarily_unavailable(response) -> None:
    assert response.status_code == 503, response.content[:300]
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "temporarily_unavailable"
    assert response["Retry-After"] == "1"
    assert response["Cache-Control"] == "no-store"


PROTOCOL_GETS = ["/.well-known/jwks.json", "/.well-known/oauth-authorization-server"]


def test_every_django_database_error_class_is_covered():
    assert {e.__name__ for e in every_database_error()} >= {"InterfaceError", "OperationalError", "Error"}


@pytest.mark.parametrize("error", every_database_error(), ids=lambda e: e.__name__)
@pytest.mark.parametrize("path", PROTOCOL_GETS)
def test_jwks_and_metadata_answer_503_on_any_database_error(client, db, path, error):
    signing_key_active()

    def fail(execute, sql, params, many, context):
        raise error("the database is gone")

    with connection.execute_wrapper(fail):
        assert_temporarily_unavailable(client.get(path))


@pytest.mark.parametrize("error", every_database_error(), ids=lambda e: e.__name__)
def test_the_token_endpoint_answers_503_on_any_database_error(request_token, ms_admin, error):
    def fail(execute, sql, params, many, context):
        raise error("the database is gone")

    with connection.execute_wrapper(fail):
        assert_temporarily_unavailable(request_token(ms_admin, resource="https://doctors.internal"))


@pytest.fixture
def connection_closed_under_us(transactional_db):
    """The process's database connection, closed behind Django's back (a server that went away)."""
    signing_key_active()
    connection.ensure_connection()
    connection.connection.close()
    yield
    connection.close()  # Django opens a fresh one for the rest of the test


@pytest.mark.parametrize("path", PROTOCOL_GETS)
def test_with_the_connection_closed_jwks_and_metadata_answer_503(client, connection_closed_under_us, path):
    assert_temporarily_unavailable(client.get(path))
