"""An admin registers a service and a client, copies its secret, gets a token, rotates the secret;
an auditor filters the audit log and cannot reach a change page. Real Chromium, real server."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from clients.models import Client
from portal.usage import token_usage_roll_up
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, username: str) -> None:
    page.goto("/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def copied(page, button: str) -> str:
    page.click(button)
    page.wait_for_selector(f"{button}.copied")
    return page.evaluate("navigator.clipboard.readText()")


def token_status(base: str, client_id: str, secret: str) -> int:
    return requests.post(
        f"{base}/o/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=10
    ).status_code


def test_an_admin_registers_a_service_and_client_and_the_copied_secret_gets_a_token(
    page, screenshot, live_server, admin_user
):
    page.goto("/")
    screenshot("login")
    sign_in(page, "alice-admin")
    screenshot("dashboard-empty")

    page.click("text=Services")
    page.click("text=Register a service")
    page.fill("#id_name", "ms_doctor")
    page.fill("#id_audience", "https://doctors.internal")
    page.fill("#id_description", "Doctors and their schedules")
    page.fill("#id_owner_contact", "team-doctors@example.com")
    page.fill("#id_scopes", "doctors:read doctors:write")
    screenshot("service-form")
    page.click("button:has-text('Register')")
    page.wait_for_selector("h1:has-text('ms_doctor')")
    assert page.locator("code:has-text('doctors:write')").count() == 1

    page.click("nav >> text=Clients")
    page.click("text=Create a client")
    page.fill("#id_name", "ms_admin")
    page.click("button:has-text('Create')")
    page.wait_for_selector("text=Copy the secret now")
    screenshot("client-secret-once")
    client_id = copied(page, "[data-copy='#client-id']")
    secret = copied(page, "[data-copy='#client-secret']")
    assert len(secret) >= 43 and client_id == Client.objects.get(name="ms_admin").client_id

    page.click("nav >> text=Grants")
    page.click("button[aria-label='Grant doctors:read to ms_admin']")
    page.wait_for_selector("button[aria-label='Revoke doctors:read from ms_admin']")
    screenshot("grants")
    assert token_status(live_server.url, client_id, secret) == 200

    page.goto(f"/clients/{Client.objects.get(name='ms_admin').pk}/")
    page.click("text=Rotate secret")
    page.fill("#id_old_secret_valid_hours", "24")
    page.click("button:has-text('Rotate secret')")
    page.wait_for_selector("text=The old secret keeps working until")
    new_secret = copied(page, "[data-copy='#client-secret']")
    assert new_secret != secret
    assert token_status(live_server.url, client_id, secret) == 200
    assert token_status(live_server.url, client_id, new_secret) == 200
    Client.objects.filter(client_id=client_id).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert token_status(live_server.url, client_id, secret) == 401
    assert token_status(live_server.url, client_id, new_secret) == 200

    token_usage_roll_up(now=timezone.now())  # what beat does every minute
    page.goto("/")
    screenshot("dashboard")
    page.click("nav >> text=Keys")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Rotate now')")
    page.wait_for_selector(".message:has-text('Rotated: the new key')")
    screenshot("keys")
    # Short words are never broken mid-word, however narrow their column: one line each.
    lines = "e => { const r = document.createRange(); r.selectNodeContents(e); return r.getClientRects().length; }"
    for word in ("table tbody .tag.state-retired", "thead th:has-text('Algorithm')"):
        assert page.locator(word).first.evaluate(lines) == 1, word


def test_an_auditor_filters_the_audit_log_and_cannot_reach_a_change_page(
    page, screenshot, live_server, auditor_user, request_token, ms_admin
):
    for _ in range(3):
        request_token(ms_admin, resource="https://doctors.internal")
    request_token(None, headers={"HTTP_AUTHORIZATION": "Basic bm9ib2R5Ong="})
    sign_in(page, "bob-auditor")
    page.click("nav >> text=Audit log")
    page.fill("#id_event", "token.issued")
    page.fill("#id_client", "ms_admin")  # by name; the id works too
    page.click("button:has-text('Filter')")
    page.wait_for_url("**/audit/?*")
    assert page.locator("td >> code:text-is('token.issued')").count() == 3
    assert page.locator("td >> code:text-is('token.denied')").count() == 0
    page.locator("td.details summary").first.click()  # unfold one event's details
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # the table fits
    screenshot("audit-log")

    page.click("nav >> text=Services")
    assert page.locator("text=Register a service").count() == 0
    for path in [
        "/services/new/",
        "/clients/new/",
        f"/clients/{ms_admin.client.pk}/rotate-secret/",
        "/security/lockouts/",
    ]:
        response = page.goto(path)
        assert response.status == 403, path
        assert page.locator("h1:has-text('Not allowed')").count() == 1
