"""A client's next token is decided from cached credentials (a secret, or keys), and every registry change
still counts at once."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from django.db import connection
from django.utils import timezone

from audit.actor import Actor
from audit.models import AuditEvent
from clients.client_keys import client_key_add, client_key_remove
from clients.models import Client, RegistryVersion, Scope
from clients.services import (
    ScopeSpec,
    client_secret_rotate,
    client_set_enabled,
    grant_add,
    grant_remove,
    scope_remove,
    service_register,
)
from tests.conftest import basic_auth
from tests.oauth.assertion_keys import assertion, key_client, new_key, public_jwk

DOCTORS = "https://doctors.internal"


def issued_count() -> int:
    return AuditEvent.objects.filter(event="token.issued").count()


def registry_version() -> int:
    return RegistryVersion.objects.get(id=1).version


def test_a_known_clients_next_token_costs_one_statement_its_audit_row(
    request_token, ms_admin, django_assert_num_queries
):
    assert request_token(ms_admin, resource=DOCTORS).status_code == 200  # reads the client, caches it
    with django_assert_num_queries(1) as captured:
        assert request_token(ms_admin, resource=DOCTORS).status_code == 200
    assert "INSERT INTO" in captured.captured_queries[0]["sql"]
    assert issued_count() == 2


@pytest.mark.parametrize(
    "change",
    [
        lambda client: client_set_enabled(client=client.client, enabled=False),
        lambda client: grant_remove(client=client.client, scope=Scope.objects.get(name="doctors:read")),
        lambda client: scope_remove(scope=Scope.objects.get(name="doctors:read")),
    ],
    ids=["client disabled", "grant removed", "scope removed"],
)
def test_a_change_to_a_cached_client_counts_for_its_very_next_token(request_token, ms_admin, change):
    assert request_token(ms_admin, resource=DOCTORS).status_code == 200
    change(ms_admin)
    response = request_token(ms_admin, resource=DOCTORS)
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("invalid_client", "invalid_target", "invalid_scope")
    assert issued_count() == 1


def test_a_grant_added_to_a_cached_client_is_usable_at_once(request_token, ms_admin):
    assert request_token(ms_admin, resource=DOCTORS).status_code == 200
    grant_add(client=Client.objects.get(pk=ms_admin.client.pk), scope=Scope.objects.get(name="doctors:write"))
    response = request_token(ms_admin, scope="doctors:write")
    assert response.status_code == 200, response.content
    assert jwt.decode(response.json()["access_token"], options={"verify_signature": False})["scope"] == (
        "doctors:write"
    )


def test_a_change_made_in_plain_sql_moves_the_registry_version_too(request_token, ms_admin):
    assert request_token(ms_admin, resource=DOCTORS).status_code == 200
    before = registry_version()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE clients_client SET enabled = %s WHERE id = %s", [False, ms_admin.client.pk])
    assert registry_version() > before
    assert request_token(ms_admin, resource=DOCTORS).json()["error"] == "invalid_client"


def test_every_kind_of_registry_change_moves_the_version(ms_admin):
    steps = [
        lambda: service_register(
            name="ms_new", audience="https://new.internal", scopes=[ScopeSpec("new:read")]
        ),
        lambda: grant_add(
            client=Client.objects.get(pk=ms_admin.client.pk), scope=Scope.objects.get(name="new:read")
        ),
        lambda: client_secret_rotate(
            client=Client.objects.get(pk=ms_admin.client.pk),
            old_secret_valid_for=timedelta(hours=1),
        ),
        lambda: scope_remove(scope=Scope.objects.get(name="new:read")),
    ]
    for step in steps:
        before = registry_version()
        step()
        assert registry_version() > before


def test_a_rotated_secret_the_old_one_works_until_its_expiry_and_the_new_one_at_once(request_token, ms_admin):
    assert request_token(ms_admin, resource=DOCTORS).status_code == 200  # the old secret is cached
    client = Client.objects.get(pk=ms_admin.client.pk)
    new_secret = client_secret_rotate(client=client, old_secret_valid_for=timedelta(minutes=5))
    assert request_token(ms_admin, resource=DOCTORS).status_code == 200
    fresh = {"HTTP_AUTHORIZATION": basic_auth(ms_admin.client.client_id, new_secret)}
    assert request_token(None, headers=fresh, resource=DOCTORS).status_code == 200
    Client.objects.filter(pk=client.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert request_token(ms_admin, resource=DOCTORS).json()["error"] == "invalid_client"
    assert request_token(None, headers=fresh, resource=DOCTORS).status_code == 200


def test_a_change_between_the_decision_and_the_audit_row_discards_the_token(
    request_token, ms_admin, monkeypatch
):
    import oauth.services

    assert request_token(ms_admin, resource=DOCTORS).status_code == 200
    resolve = oauth.services.token_targets_resolve
    calls = []

    def resolve_then_disable(**kwargs):
        calls.append(1)
        if len(calls) == 1:  # the decision from the cache is made; now an admin disables the client
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE clients_client SET enabled = %s WHERE id = %s", [False, ms_admin.client.pk]
                )
        return resolve(**kwargs)

    monkeypatch.setattr(oauth.services, "token_targets_resolve", resolve_then_disable)
    response = request_token(ms_admin, resource=DOCTORS)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert issued_count() == 1  # the token decided on stale credentials was thrown away, unrecorded


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the in-flight INSERT is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_the_in_flight_audit_row_is_conditional_on_the_registry_version_too(
    request_token, ms_admin, monkeypatch
):
    test_a_change_between_the_decision_and_the_audit_row_discards_the_token(
        request_token, ms_admin, monkeypatch
    )


def test_a_deleted_client_is_refused_and_forgotten(request_token, ms_admin):
    from clients.selectors import client_authenticate_cached
    from clients.services import client_delete

    assert request_token(ms_admin, resource=DOCTORS).status_code == 200
    client_delete(client=Client.objects.get(pk=ms_admin.client.pk))
    assert request_token(ms_admin, resource=DOCTORS).json()["error"] == "invalid_client"
    assert (
        client_authenticate_cached(client_id=ms_admin.client.client_id, client_secret=ms_admin.client_secret)
        is None
    )


def test_a_registry_that_keeps_changing_under_a_request_gets_503_not_a_token(
    request_token, ms_admin, monkeypatch
):
    import oauth.services

    assert request_token(ms_admin, resource=DOCTORS).status_code == 200
    resolve = oauth.services.token_targets_resolve

    def resolve_while_an_admin_keeps_editing(**kwargs):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE clients_service SET description = description || '.'")
        return resolve(**kwargs)

    monkeypatch.setattr(oauth.services, "token_targets_resolve", resolve_while_an_admin_keeps_editing)
    response = request_token(ms_admin, resource=DOCTORS)
    assert response.status_code == 503 and response.json()["error"] == "temporarily_unavailable"
    assert issued_count() == 1


# --- clients that authenticate with private_key_jwt: their keys are cached the same way -------------


ADMIN = Actor(name="alice-admin")


@pytest.fixture
def signing_key():
    return new_key("ES256")


@pytest.fixture
def ms_keyed(ms_doctor, signing_key):
    return key_client("ms_keyed", signing_key, "ms_doctor:doctors:read", "ms_doctor:doctors:write")


def signed_by(client: Client, key, kid: str = "k1") -> str:
    return assertion(client.client_id, key, kid=kid)


def refusal_reason() -> str:
    return AuditEvent.objects.filter(event="token.denied").order_by("-id").first().details["reason"]


def test_a_known_key_clients_next_token_reads_no_client_row(
    post_assertion, ms_keyed, signing_key, django_assert_max_num_queries
):
    assert post_assertion(signed_by(ms_keyed, signing_key)).status_code == 200  # reads the client, caches it
    with django_assert_max_num_queries(10) as captured:
        assert post_assertion(signed_by(ms_keyed, signing_key)).status_code == 200
    client_table = Client._meta.db_table
    assert not [q["sql"] for q in captured.captured_queries if client_table in q["sql"]]
    assert issued_count() == 2


def disable(client: Client) -> None:
    client_set_enabled(client=client, enabled=False)


def replace_its_key(client: Client) -> None:
    """k1 rotated out: k2 added, then k1 removed."""
    client_key_add(client=client, jwk=public_jwk(new_key("ES256"), kid="k2"), actor=ADMIN)
    client_key_remove(client=Client.objects.get(pk=client.pk), kid="k1", actor=ADMIN)


@pytest.mark.parametrize(
    ("change", "reason"),
    [(disable, "client disabled"), (replace_its_key, "client assertion: unknown_kid")],
    ids=["client disabled", "its key replaced"],
)
def test_a_change_to_a_cached_key_client_counts_for_its_very_next_token(
    post_assertion, ms_keyed, signing_key, change, reason
):
    assert post_assertion(signed_by(ms_keyed, signing_key)).status_code == 200
    change(Client.objects.get(pk=ms_keyed.pk))
    response = post_assertion(signed_by(ms_keyed, signing_key))
    assert response.status_code == 401
    # The refusal is decided on a fresh read, and the assertion's jti was spent once, not twice
    # (a second spend would read as a replay).
    assert refusal_reason() == reason
    assert issued_count() == 1


def test_a_grant_removed_from_a_cached_key_client_counts_at_once(post_assertion, ms_keyed, signing_key):
    assert post_assertion(signed_by(ms_keyed, signing_key), scope="doctors:write").status_code == 200
    grant_remove(client=Client.objects.get(pk=ms_keyed.pk), scope=Scope.objects.get(name="doctors:write"))
    response = post_assertion(signed_by(ms_keyed, signing_key), scope="doctors:write")
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"
    assert issued_count() == 1


def test_a_key_added_to_a_cached_key_client_is_usable_at_once(post_assertion, ms_keyed, signing_key):
    assert post_assertion(signed_by(ms_keyed, signing_key)).status_code == 200
    successor = new_key("ES256")
    client_key_add(
        client=Client.objects.get(pk=ms_keyed.pk), jwk=public_jwk(successor, kid="k2"), actor=ADMIN
    )
    assert post_assertion(signed_by(ms_keyed, successor, kid="k2")).status_code == 200
    assert issued_count() == 2


def test_a_replayed_assertion_is_refused_by_a_cached_key_client_too(post_assertion, ms_keyed, signing_key):
    signed = signed_by(ms_keyed, signing_key)
    assert post_assertion(signed).status_code == 200
    assert post_assertion(signed).status_code == 401
    assert refusal_reason() == "client assertion: replayed_jti"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the in-flight INSERT is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_the_in_flight_row_of_a_cached_key_client_is_conditional_too(post_assertion, ms_keyed, signing_key):
    test_a_change_to_a_cached_key_client_counts_for_its_very_next_token(
        post_assertion, ms_keyed, signing_key, replace_its_key, "client assertion: unknown_kid"
    )
