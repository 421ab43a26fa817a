"""create_service and create_client, as operators and acceptance scripts call them."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError
from django.utils import timezone

from audit.models import AuditEvent
from clients.models import Client, Grant, Scope, Service
from tests.conftest import run_command
from tests.oauth.test_token_endpoint import HOSTILE_URIS


@pytest.mark.django_db
def test_create_service_registers_it_with_its_scopes():
    run_command(
        "create_service",
        "ms_doctor",
        "--audience",
        "https://doctors.internal",
        "--scope",
        "doctors:read",
        "--scope",
        "doctors:write",
    )
    service = Service.objects.get(name="ms_doctor")
    assert service.audience == "https://doctors.internal"
    assert sorted(service.scopes.values_list("name", flat=True)) == ["doctors:read", "doctors:write"]
    assert AuditEvent.objects.filter(event="service.created").count() == 1
    assert AuditEvent.objects.filter(event="scope.created").count() == 2


@pytest.mark.django_db
def test_create_client_json_prints_credentials_on_the_last_line(ms_doctor):
    output = run_command("create_client", "ms_admin", "--grant", "ms_doctor:doctors:read", "--json")
    credentials = json.loads(output.strip().splitlines()[-1])
    client = Client.objects.get(name="ms_admin")
    assert credentials["client_id"] == client.client_id
    assert len(credentials["client_secret"]) >= 43  # 256 bits, URL-safe base64
    assert client.client_secret.startswith("client_secret_sha256$")
    assert credentials["client_secret"] not in client.client_secret
    assert list(Grant.objects.filter(client=client).values_list("scope__name", flat=True)) == ["doctors:read"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("--grant ms_nobody:doctors:read", "no service 'ms_nobody'"),
        ("--grant ms_doctor:college:read", "has no scope 'college:read'"),
        ("--grant doctors:read", "no service 'doctors'"),
        ("--grant nonsense", "is not SERVICE:SCOPE"),
        ("--lifetime 7200", "access_token_lifetime"),
        ("--service ms_nobody", "no service 'ms_nobody'"),
    ],
)
def test_create_client_with_bad_input_fails_and_creates_nothing(ms_doctor, ms_college, args, message):
    before = AuditEvent.objects.count()
    with pytest.raises(CommandError, match=message):
        run_command("create_client", "ms_admin", *args.split())
    assert not Client.objects.exists()
    assert not Grant.objects.exists()
    assert AuditEvent.objects.count() == before


@pytest.mark.django_db
def test_create_client_refuses_a_duplicate_name(ms_doctor):
    run_command("create_client", "ms_admin", "--grant", "ms_doctor:doctors:read")
    with pytest.raises(CommandError, match="name"):
        run_command("create_client", "ms_admin", "--grant", "ms_doctor:doctors:read")
    assert Client.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ms_doctor", "--audience", "https://other.internal"], "name"),
        (["ms_orders", "--audience", "https://doctors.internal"], "audience"),
        (["ms_orders", "--audience", "not a uri"], "audience"),
        (["ms_orders", "--audience", "https://orders.internal#frag"], "audience"),
        (["MS Orders", "--audience", "https://orders.internal"], "service name"),
        (["ms_orders", "--audience", "https://orders.internal", "--scope", "doctors:read"], "name"),
        (["ms_orders", "--audience", "https://orders.internal", "--scope", "bad scope"], "scope name"),
        (["ms_orders", "--audience", "https://orders.internal", "--scope", "o:r", "--scope", "o:r"], "twice"),
    ],
)
def test_create_service_with_bad_input_fails_and_creates_nothing(ms_doctor, args, message):
    services, scopes = Service.objects.count(), Scope.objects.count()
    with pytest.raises(CommandError, match=message):
        run_command("create_service", *args)
    assert (Service.objects.count(), Scope.objects.count()) == (services, scopes)


@pytest.mark.django_db
@pytest.mark.parametrize("audience", HOSTILE_URIS)
def test_create_service_with_an_audience_that_is_no_uri_fails_with_one_line(audience):
    with pytest.raises(CommandError, match="is not an audience") as raised:
        run_command("create_service", "ms_orders", "--audience", audience)
    assert "\n" not in str(raised.value)
    assert not Service.objects.exists()


@pytest.mark.django_db
def test_seed_demo_fills_an_empty_registry_once():
    output = run_command("seed_demo")
    assert "curl" in output and "client_secret" in output
    assert set(Service.objects.values_list("name", flat=True)) == {"ms_doctor", "ms_college"}
    client = Client.objects.get(name="ms_admin")
    assert list(client.grants.values_list("scope__name", flat=True)) == ["doctors:read"]
    assert "not empty" in run_command("seed_demo")
    assert Client.objects.count() == 1


# --- who acted: the operator, not "system" -------------------------------------------------------


@pytest.fixture
def operator_alice(monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "alice")


@pytest.mark.django_db
def test_create_service_and_create_client_record_the_os_user_who_ran_them(operator_alice):
    run_command(
        "create_service", "ms_doctor", "--audience", "https://doctors.internal", "--scope", "doctors:read"
    )
    run_command("create_client", "ms_admin", "--grant", "ms_doctor:doctors:read")
    actors = set(AuditEvent.objects.values_list("actor", flat=True))
    assert actors == {"os:alice"}
    assert AuditEvent.objects.filter(event="grant.added", actor="os:alice").count() == 1


@pytest.mark.django_db
def test_an_operator_may_name_the_actor(operator_alice):
    run_command(
        "create_service", "ms_doctor", "--audience", "https://doctors.internal", "--actor", "ticket-4711"
    )
    run_command("create_client", "ms_admin", "--actor", "ticket-4711")
    assert set(AuditEvent.objects.values_list("actor", flat=True)) == {"ticket-4711"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("command", "event"),
    [
        (["seed_demo"], "client.created"),
        (["rotate_keys", "--now"], "key.activated"),
        (["revoke_key", "KID"], "key.revoked"),
        (["create_portal_user", "carol", "--role", "auditor"], "portal.user_created"),
    ],
)
def test_the_other_operator_commands_record_the_os_user_too(operator_alice, monkeypatch, command, event):
    from keys.services import key_rotate_now, signing_key_active

    monkeypatch.setenv("AUTHPORTAL_PASSWORD", "a long passphrase for carol")
    if "KID" in command:
        kid = signing_key_active().kid
        key_rotate_now(now=timezone.now())
        command = [kid if word == "KID" else word for word in command]
    run_command(*command)
    assert AuditEvent.objects.filter(event=event).values_list("actor", flat=True).last() == "os:alice"
