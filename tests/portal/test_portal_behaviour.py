"""What security admins and auditors do in the portal, and the audit trail it leaves."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from clients.models import Client, Grant, Service
from keys.models import SigningKey
from keys.services import signing_key_active
from portal.usage import token_usage_roll_up
from tests.conftest import PASSWORD, basic_auth, token_status
from tests.oauth.test_token_endpoint import HOSTILE_URIS


def login(client, username, password=PASSWORD, **extra):
    return client.post(reverse("portal:login"), {"username": username, "password": password}, **extra)


# --- signing in -------------------------------------------------------------------------------------


def test_signing_in_cycles_the_session_and_is_audited(client, admin_user):
    client.get(reverse("portal:login"))
    before = client.cookies.get("sessionid")
    response = login(client, "alice-admin")
    assert response.status_code == 302
    assert client.cookies["sessionid"].value != (before.value if before else None)
    assert AuditEvent.objects.filter(event="portal.login", actor="alice-admin").count() == 1


def test_a_failed_sign_in_is_a_form_error_and_audited(client, admin_user):
    response = login(client, "alice-admin", "wrong")
    assert response.status_code == 200
    assert b"Please enter a correct" in response.content
    assert AuditEvent.objects.filter(
        event="portal.login_failed", outcome="failure", actor="alice-admin"
    ).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("username", "password", "stored_as"),
    [
        ("alice\x00-admin", PASSWORD, "alice\u2400-admin"),
        ("alice-admin", "correct horse\x00battery", "alice-admin"),
        ("\x00", "\x00", "\u2400"),
    ],
    ids=["NUL in the username", "NUL in the password", "NUL in both"],
)
def test_a_nul_in_the_sign_in_form_is_a_form_error_and_audited_escaped(
    client, admin_user, username, password, stored_as
):
    response = login(client, username, password)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert "_auth_user_id" not in client.session
    row = AuditEvent.objects.get(event="portal.login_failed")
    assert (row.outcome, row.actor, row.subject) == ("failure", stored_as, f"user:{stored_as}")
    assert login(client, "alice-admin").status_code == 302  # the portal goes on


def test_repeated_failures_lock_the_account_until_an_admin_unlocks_it(
    client, admin_user, auditor_user, settings
):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "bob-auditor", "wrong", REMOTE_ADDR="10.0.0.7")
    locked = login(client, "bob-auditor", REMOTE_ADDR="10.0.0.7")  # right password, same address
    assert locked.status_code == 429
    assert b"locked" in locked.content
    assert AuditEvent.objects.filter(event="portal.locked_out", actor="bob-auditor").exists()

    client.force_login(admin_user)
    assert b"bob-auditor" in client.get(reverse("portal:lockout_list")).content
    client.post(reverse("portal:lockout_clear"), {"username": "bob-auditor", "ip_address": "10.0.0.7"})
    assert AuditEvent.objects.filter(event="portal.unlocked", actor="alice-admin").count() == 1
    client.logout()
    assert login(client, "bob-auditor", REMOTE_ADDR="10.0.0.7").status_code == 302


def test_sessions_end_after_idle_time(settings):
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert settings.SESSION_COOKIE_AGE == 30 * 60


def test_sign_out_is_post_only_and_audited(admin_client):
    assert admin_client.get(reverse("portal:logout")).status_code == 405
    admin_client.post(reverse("portal:logout"))
    assert AuditEvent.objects.filter(event="portal.logout").exists()
    assert admin_client.get(reverse("portal:dashboard")).status_code == 302


def test_pages_carry_csp_frame_denial_and_no_store(admin_client):
    response = admin_client.get(reverse("portal:dashboard"))
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert "no-store" in response["Cache-Control"]


# --- services, clients, grants ------------------------------------------------------------------------


def test_an_admin_registers_a_service_with_scopes_and_it_is_audited_with_the_actor(admin_client):
    response = admin_client.post(
        reverse("portal:service_create"),
        {
            "name": "ms_orders",
            "audience": "https://orders.internal",
            "scopes": "orders:read, orders:write",
            "description": "Orders",
            "owner_contact": "team-orders@example.com",
        },
    )
    service = Service.objects.get(name="ms_orders")
    assert response["Location"] == reverse("portal:service_detail", args=[service.pk])
    assert sorted(service.scopes.values_list("name", flat=True)) == ["orders:read", "orders:write"]
    assert AuditEvent.objects.filter(event="service.created", actor="alice-admin").exists()
    assert AuditEvent.objects.filter(event="scope.created", actor="alice-admin").count() == 2


def test_bad_service_input_is_a_form_error_and_nothing_is_created(admin_client, ms_doctor):
    response = admin_client.post(
        reverse("portal:service_create"),
        {"name": "ms_orders", "audience": "https://doctors.internal", "scopes": "orders:read"},
    )
    assert response.status_code == 200
    assert b"audience" in response.content.lower()
    assert not Service.objects.filter(name="ms_orders").exists()
    response = admin_client.post(
        reverse("portal:service_create"), {"name": "x", "audience": "nope", "scopes": "a b"}
    )
    assert response.status_code == 200
    assert Service.objects.count() == 1


@pytest.mark.parametrize("audience", HOSTILE_URIS)
def test_an_audience_that_is_no_uri_is_a_form_error_on_the_audience(admin_client, audience):
    response = admin_client.post(
        reverse("portal:service_create"), {"name": "ms_orders", "audience": audience, "scopes": ""}
    )
    assert response.status_code == 200
    assert "is not an audience" in " ".join(response.context["form"].errors["audience"])
    assert not Service.objects.exists()


def test_a_new_clients_secret_is_shown_once_and_works(admin_client, ms_doctor):
    response = admin_client.post(
        reverse("portal:client_create"), {"name": "ms_billing", "access_token_lifetime": 600}
    )
    assert response.status_code == 200
    secret = re.search(rb'id="client-secret"[^>]*>([^<]+)<', response.content).group(1).decode()
    client = Client.objects.get(name="ms_billing")
    assert "no-store" in response["Cache-Control"]
    detail = admin_client.get(reverse("portal:client_detail", args=[client.pk]))
    assert secret.encode() not in detail.content
    assert secret not in client.client_secret
    admin_client.post(
        reverse("portal:grant_toggle"),
        {"client": client.pk, "scope": ms_doctor.scopes.get(name="doctors:read").pk, "action": "grant"},
    )
    assert token_status(admin_client, client.client_id, secret) == 200


def test_rotating_a_secret_keeps_the_old_one_until_its_expiry(admin_client, ms_reports):
    client = ms_reports.client
    response = admin_client.post(
        reverse("portal:client_rotate_secret", args=[client.pk]),
        {"old_secret_valid_hours": 24, "secret_version": client.secret_version()},
    )
    new = re.search(rb'id="client-secret"[^>]*>([^<]+)<', response.content).group(1).decode()
    assert token_status(admin_client, client.client_id, new) == 200
    assert token_status(admin_client, client.client_id, ms_reports.client_secret) == 200
    Client.objects.filter(pk=client.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert token_status(admin_client, client.client_id, ms_reports.client_secret) == 401
    assert token_status(admin_client, client.client_id, new) == 200
    assert AuditEvent.objects.filter(event="client.secret_rotated", actor="alice-admin").exists()


def test_rotating_twice_leaves_at_most_two_valid_secrets(admin_client, ms_reports):
    client = ms_reports.client
    url = reverse("portal:client_rotate_secret", args=[client.pk])
    pattern = rb'id="client-secret"[^>]*>([^<]+)<'

    def rotate() -> str:
        form = {
            "old_secret_valid_hours": 24,
            "secret_version": Client.objects.get(pk=client.pk).secret_version(),
        }
        return re.search(pattern, admin_client.post(url, form).content).group(1).decode()

    second, third = rotate(), rotate()
    assert token_status(admin_client, client.client_id, ms_reports.client_secret) == 401
    assert token_status(admin_client, client.client_id, second) == 200
    assert token_status(admin_client, client.client_id, third) == 200


def test_disabling_a_client_stops_its_tokens_and_enabling_restores_them(admin_client, ms_reports):
    client = ms_reports.client
    admin_client.post(reverse("portal:client_disable", args=[client.pk]))
    assert token_status(admin_client, client.client_id, ms_reports.client_secret) == 401
    admin_client.post(reverse("portal:client_enable", args=[client.pk]))
    assert token_status(admin_client, client.client_id, ms_reports.client_secret) == 200
    events = list(
        AuditEvent.objects.filter(event__in=["client.disabled", "client.enabled"]).values_list(
            "event", flat=True
        )
    )
    assert sorted(events) == ["client.disabled", "client.enabled"]


def test_deleting_a_client_needs_its_name_typed(admin_client, ms_reports):
    url = reverse("portal:client_delete", args=[ms_reports.client.pk])
    response = admin_client.post(url, {"confirmation": "something else"})
    assert response.status_code == 200 and b"exactly to confirm" in response.content
    assert Client.objects.filter(pk=ms_reports.client.pk).exists()
    admin_client.post(url, {"confirmation": "ms_reports"})
    assert not Client.objects.filter(pk=ms_reports.client.pk).exists()
    assert AuditEvent.objects.get(event="client.deleted").details["grants"] == [
        "doctors:read",
        "doctors:write",
    ]


def test_the_grant_matrix_grants_revokes_and_hints_at_unused_scopes(
    admin_client, request_token, ms_reports, ms_doctor
):
    Grant.objects.filter(client=ms_reports.client).update(created_at=timezone.now() - timedelta(days=31))
    request_token(ms_reports, scope="doctors:read")
    token_usage_roll_up(now=timezone.now())
    page = admin_client.get(reverse("portal:grant_matrix"), {"service": ms_doctor.pk})
    assert page.status_code == 200
    assert b'title="Revoke doctors:write from ms_reports (unused for 30 days)"' in page.content
    assert b'title="Revoke doctors:read from ms_reports"' in page.content
    write = ms_doctor.scopes.get(name="doctors:write")
    admin_client.post(
        reverse("portal:grant_toggle"),
        {"client": ms_reports.client.pk, "scope": write.pk, "action": "revoke"},
    )
    assert not Grant.objects.filter(client=ms_reports.client, scope=write).exists()
    assert AuditEvent.objects.filter(event="grant.removed", actor="alice-admin").exists()


def test_a_service_page_shows_who_may_call_it(auditor_client, ms_admin, ms_doctor):
    page = auditor_client.get(reverse("portal:service_detail", args=[ms_doctor.pk])).content.decode()
    assert "ms_admin" in page and "doctors:read" in page


# --- keys ---------------------------------------------------------------------------------------------


def test_revoking_a_key_needs_its_kid_typed(admin_client, db):
    key = signing_key_active()
    url = reverse("portal:key_revoke", args=[key.kid])
    assert admin_client.post(url, {"confirmation": key.kid[:-1]}).status_code == 200
    assert SigningKey.objects.get(kid=key.kid).state == "active"
    admin_client.post(url, {"confirmation": key.kid})
    assert SigningKey.objects.get(kid=key.kid).state == "revoked"
    assert AuditEvent.objects.filter(event="key.revoked", actor="alice-admin").exists()


def test_rotate_now_from_the_keys_page(admin_client, db):
    first = signing_key_active()
    admin_client.post(reverse("portal:key_rotate"), {"active_kid": first.kid})
    assert SigningKey.objects.get(kid=first.kid).state == "retired"
    page = admin_client.get(reverse("portal:key_list")).content.decode()
    assert "retired" in page and "active" in page


# --- the audit log ------------------------------------------------------------------------------------


def test_the_audit_log_filters_and_pages_from_newest_to_oldest(
    auditor_client, request_token, ms_admin, ms_reports
):
    for _ in range(3):
        request_token(ms_admin, resource="https://doctors.internal")
    request_token(ms_reports)
    request_token(None, headers={"HTTP_AUTHORIZATION": basic_auth("nobody", "x")})
    page = auditor_client.get(
        reverse("portal:audit_log"), {"event": "token.issued", "client": ms_admin.client.client_id}
    )
    assert page.content.decode().count('<td class="nowrap"><code>token.issued</code>') == 3
    failures = auditor_client.get(reverse("portal:audit_log"), {"outcome": "failure"}).content.decode()
    assert "token.denied" in failures and "token.issued" not in failures
    family = auditor_client.get(reverse("portal:audit_log"), {"event": "token.*"}).content.decode()
    assert family.count('<td class="nowrap"><code>token.') == 5


def test_audit_pages_follow_each_other_without_gaps_or_repeats(
    auditor_client, request_token, ms_reports, monkeypatch
):
    monkeypatch.setattr("portal.views.audit.PAGE_SIZE", 4)
    for _ in range(9):
        request_token(ms_reports)
    seen, url = [], reverse("portal:audit_log") + "?event=token.issued"
    while url:
        response = auditor_client.get(url)
        seen += re.findall(r"jti: ([A-Za-z0-9_-]+)", response.content.decode())
        url = response.context["next_url"]
    assert len(seen) == 9 == len(set(seen))


def test_bad_audit_filters_are_form_errors(auditor_client, db):
    response = auditor_client.get(reverse("portal:audit_log"), {"since": "yesterday-ish"})
    assert response.status_code == 200
    assert b"Enter a valid date/time" in response.content


# --- create_portal_user ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_portal_user_takes_the_password_from_the_environment(monkeypatch, client):
    monkeypatch.setenv("AUTHPORTAL_PASSWORD", PASSWORD)
    out = StringIO()
    call_command("create_portal_user", "carol", "--role", "auditor", stdout=out)
    assert "Created auditor carol" in out.getvalue()
    assert login(client, "carol").status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize(("password", "message"), [("short", "too short"), (PASSWORD, "already a user")])
def test_create_portal_user_refuses_weak_passwords_and_duplicates(monkeypatch, admin_user, password, message):
    monkeypatch.setenv("AUTHPORTAL_PASSWORD", password)
    with pytest.raises(CommandError, match=message):
        call_command(
            "create_portal_user", "alice-admin" if "already" in message else "dave", "--role", "admin"
        )


@pytest.mark.django_db
def test_create_portal_user_without_a_password_or_terminal_fails(monkeypatch):
    monkeypatch.delenv("AUTHPORTAL_PASSWORD", raising=False)
    monkeypatch.setattr(os, "isatty", lambda fd: False)
    with pytest.raises(CommandError, match="AUTHPORTAL_PASSWORD"):
        call_command("create_portal_user", "dave", "--role", "admin")


def test_the_dashboard_charts_tokens_per_service_and_lists_denials_and_idle_clients(
    auditor_client, request_token, ms_admin, ms_reports, ms_college
):
    from clients.services import GrantSpec, client_register

    client_register(name="ms_idle", grants=[GrantSpec("ms_college", "college:read")])
    for _ in range(3):
        request_token(ms_admin, resource="https://doctors.internal")
    request_token(ms_admin, resource="https://college.internal")
    request_token(ms_reports)
    request_token(None, headers={"HTTP_AUTHORIZATION": basic_auth(ms_admin.client.client_id, "wrong")})
    token_usage_roll_up(now=timezone.now())
    page = auditor_client.get(reverse("portal:dashboard"))
    chart = page.context["chart"]
    assert {name: total for name, _, total in chart.legend} == {"ms_doctor": 4, "ms_college": 1}
    assert [(d.client.name, d.error, d.reason, d.count) for d in page.context["denials"]] == [
        ("ms_admin", "invalid_client", "wrong client secret", 1)
    ]
    assert [c.name for c in page.context["idle_clients"]] == ["ms_idle"]
    assert b"Next rotation" in page.content


def test_the_roll_up_is_idempotent_and_recounts_the_last_hours(request_token, ms_reports):
    from portal.models import TokenUsageHour

    request_token(ms_reports)
    token_usage_roll_up(now=timezone.now())
    token_usage_roll_up(now=timezone.now())
    assert sum(TokenUsageHour.objects.values_list("issued", flat=True)) == 1
    request_token(ms_reports)
    token_usage_roll_up(now=timezone.now())
    assert sum(TokenUsageHour.objects.values_list("issued", flat=True)) == 2


def test_an_auditor_exports_the_filtered_log_and_the_export_is_audited(
    auditor_client, request_token, ms_reports
):
    for _ in range(2):
        request_token(ms_reports)
    response = auditor_client.get(reverse("portal:audit_export"), {"format": "csv", "event": "token.issued"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    body = b"".join(response.streaming_content).decode()
    assert body.count("token.issued") == 2
    exported = AuditEvent.objects.get(event="audit.exported")
    assert exported.actor == "bob-auditor"


def test_an_auditor_downloads_a_csv_and_its_seal_and_verifies_them_offline(
    auditor_client, request_token, ms_reports, tmp_path
):
    from audit.sealing import audit_seal
    from audit.verify.file import audit_export_verify
    from keys.tokens import signer_active

    for _ in range(2):
        request_token(ms_reports)
    audit_seal(signer=signer_active())
    files = {}
    for fmt in ("csv", "seal"):
        response = auditor_client.get(
            reverse("portal:audit_export"), {"format": fmt, "event": "token.issued"}
        )
        assert response.status_code == 200
        files[fmt] = b"".join(response.streaming_content)
    assert response["Content-Disposition"].endswith('.csv.seal.jsonl"')
    (tmp_path / "audit.csv").write_bytes(files["csv"])
    (tmp_path / "audit.csv.seal.jsonl").write_bytes(files["seal"])
    report = audit_export_verify(path=tmp_path / "audit.csv")
    assert report.ok, report.problems
    assert report.events == 2


def test_a_bad_export_request_is_a_clear_error(auditor_client, db):
    response = auditor_client.get(reverse("portal:audit_export"), {"format": "xlsx"})
    assert response.status_code == 400
    assert b"Cannot export" in response.content


def test_the_audit_log_filters_by_service(admin_client, ms_doctor, ms_college, ms_reports):
    admin_client.post(
        reverse("portal:service_edit", args=[ms_doctor.pk]), {"description": "new", "owner_contact": ""}
    )
    page = admin_client.get(reverse("portal:audit_log"), {"service": "ms_doctor"}).content.decode()
    assert "service.updated" in page and "grant.added" in page
    assert "ms_college" not in page


def test_protocol_requests_skip_the_portals_middleware(client, admin_user, request_token, ms_reports):
    # Sessions, the signed-in user, messages, CSP and no-store are the portal's and the API's: the token
    # endpoint and the well-known documents skip them (authportal/portal_middleware.py), even for a
    # browser that is signed in to the portal.
    client.force_login(admin_user)
    for response in (request_token(ms_reports), client.get("/.well-known/jwks.json")):
        assert "Content-Security-Policy" not in response
        assert not hasattr(response.wsgi_request, "session") and not hasattr(response.wsgi_request, "user")
        assert response.get("Cache-Control") != "no-store, private" and not response.cookies
    page = client.get(reverse("portal:dashboard"))
    assert "Content-Security-Policy" in page and page["Cache-Control"] == "no-store, private"
    assert page.wsgi_request.user == admin_user
