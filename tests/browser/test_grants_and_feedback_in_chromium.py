"""The grant pages as an admin sees them in Chromium on a Linux server, and the feedback after each change."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt

from clients.models import Client, Grant
from tests.browser.test_portal_in_chromium import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def answer_confirm(page, accept: bool) -> list[str]:
    """Answer the next confirmation dialog; the list receives its question (stays empty if none came)."""
    questions: list[str] = []

    def handle(dialog) -> None:
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", handle)
    return questions


def test_the_grant_matrix_draws_its_buttons_keeps_scope_case_and_asks_before_revoking(
    page, live_server, admin_user, ms_admin, ms_doctor
):
    sign_in(page, "alice-admin")
    page.goto(f"/grants/?service={ms_doctor.pk}")

    grant = page.locator("button[aria-label='Grant doctors:write to ms_admin']")
    icon = grant.locator("svg").bounding_box()
    assert icon is not None and icon["width"] >= 8 and icon["height"] >= 8  # drawn, not a missing glyph
    assert page.locator("thead th code").all_inner_texts() == ["doctors:read", "doctors:write"]

    questions = answer_confirm(page, accept=False)
    page.click("button[aria-label='Revoke doctors:read from ms_admin']")
    assert questions == ["Revoke doctors:read from ms_admin? Its next token will not carry it."]
    assert Grant.objects.filter(client=ms_admin.client, scope__name="doctors:read").exists()

    answer_confirm(page, accept=True)
    page.click("button[aria-label='Revoke doctors:read from ms_admin']")
    page.wait_for_selector(".message:has-text('Revoked doctors:read from ms_admin.')")
    assert not Grant.objects.filter(client=ms_admin.client, scope__name="doctors:read").exists()


def test_an_admin_grants_scopes_on_two_services_from_the_client_page(
    page, live_server, admin_user, ms_doctor, ms_college
):
    from clients.services import client_register

    client = client_register(name="ms_billing", grants=[]).client
    sign_in(page, "alice-admin")
    page.goto(f"/clients/{client.pk}/")
    page.check("#grant-more label:has-text('doctors:read') input")
    page.check("#grant-more label:has-text('college:read') input")
    page.click("text=Grant selected scopes")
    page.wait_for_selector(
        ".message:has-text('Granted college:read (ms_college), doctors:read (ms_doctor) to ms_billing.')"
    )
    assert set(Grant.objects.filter(client=client).values_list("scope__name", flat=True)) == {
        "doctors:read",
        "college:read",
    }


def test_disabling_a_client_asks_first_and_then_says_what_happened(page, live_server, admin_user, ms_admin):
    sign_in(page, "alice-admin")
    page.goto(f"/clients/{ms_admin.client.pk}/")
    questions = answer_confirm(page, accept=False)
    page.click("button:has-text('Disable')")
    assert questions == ["Disable ms_admin? It gets no new tokens until it is enabled again."]
    assert Client.objects.get(pk=ms_admin.client.pk).enabled

    answer_confirm(page, accept=True)
    page.click("button:has-text('Disable')")
    page.wait_for_selector(
        ".message:has-text('Disabled ms_admin: it gets no new tokens until it is enabled again.')"
    )
    assert not Client.objects.get(pk=ms_admin.client.pk).enabled
    page.click("button:has-text('Enable')")
    page.wait_for_selector(".message:has-text('Enabled ms_admin: it can get tokens again.')")


def test_unlocking_asks_first_and_then_says_who_was_unlocked(page, live_server, admin_user, settings):
    AccessAttempt.objects.create(
        username="bob", ip_address="10.0.0.7", failures_since_start=settings.AXES_FAILURE_LIMIT
    )
    sign_in(page, "alice-admin")
    page.goto("/security/lockouts/")
    questions = answer_confirm(page, accept=True)
    page.click("button:has-text('Unlock')")
    page.wait_for_selector(".message:has-text('Unlocked bob.')")
    assert questions == ["Unlock bob? Only if you know who failed to sign in."]
    assert not AccessAttempt.objects.filter(username="bob").exists()
