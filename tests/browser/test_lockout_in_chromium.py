"""Lockouts in Chromium: one person's failed sign-ins lock their username at their address, never an
admin at the same address; the lock says until when, and the admin sees it and lifts it."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from tests.browser.test_portal_in_chromium import sign_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def try_sign_in(page, username: str, password: str) -> None:
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_an_admin_signs_in_beside_a_locked_user_and_lifts_the_lock(
    page, chromium, live_server, settings, admin_user, auditor_user
):
    settings.AXES_FAILURE_LIMIT = 5
    settings.AUTHPORTAL_LOGIN_USERNAME_FAILURE_LIMIT = 20
    bob = chromium.new_context(base_url=live_server.url).new_page()
    for _ in range(5):
        try_sign_in(bob, "bob-auditor", "not the password")

    sign_in(page, "alice-admin")  # the same address (127.0.0.1), the right password: in
    assert page.locator("nav >> text=Lockouts").count() == 1

    try_sign_in(bob, "bob-auditor", PASSWORD)
    message = bob.inner_text("[role=alert]")
    assert "locked here until" in message and "UTC" in message and "Other people can still sign in" in message

    page.click("nav >> text=Lockouts")
    row = page.locator("tr", has_text="bob-auditor")
    assert "127.0.0.1" in row.inner_text() and "UTC" in row.inner_text()
    page.once("dialog", lambda dialog: dialog.accept())  # unlocking asks first
    row.locator("button:has-text('Unlock')").click()
    page.wait_for_selector("text=Nobody is locked out")

    sign_in(bob, "bob-auditor")
    assert bob.locator("nav >> text=Audit log").count() == 1
    assert not AuditEvent.objects.filter(actor="alice-admin", outcome="failure").exists()
    assert (
        AuditEvent.objects.filter(
            event="portal.locked_out", actor="bob-auditor", details__refused=True
        ).count()
        == 1
    )
    bob.context.close()
