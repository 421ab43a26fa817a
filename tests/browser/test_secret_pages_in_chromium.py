"""The pages that show a secret once, in Chromium: a reload acts no more, the secret and a ready
`curl` line sit on one line each, and that line, run as it is copied, gets a token."""

from __future__ import annotations

import json
import shlex
import subprocess

import pytest
import requests

from clients.models import Client
from tests.browser.test_portal_in_chromium import copied, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LINE_BOXES = "sel => { const r = document.createRange(); r.selectNodeContents(document.querySelector(sel)); return r.getClientRects().length; }"


def token_status(base: str, client_id: str, secret: str) -> int:
    return requests.post(
        f"{base}/o/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=10
    ).status_code


def test_reloading_the_new_secret_page_rotates_nothing_and_says_so(page, live_server, admin_user, ms_reports):
    client = ms_reports.client
    sign_in(page, "alice-admin")
    page.goto(f"/clients/{client.pk}/")
    page.click("text=Rotate secret")
    page.fill("#id_old_secret_valid_hours", "24")
    page.click("button:has-text('Rotate secret')")
    page.wait_for_selector("text=The old secret keeps working until")
    new_secret = page.inner_text("#client-secret")

    page.reload()  # Chromium sends the form again

    page.wait_for_selector("h1:has-text('was already rotated')")
    assert page.locator("#client-secret").count() == 0
    assert "keeps working until" in page.inner_text("main")
    assert token_status(live_server.url, client.client_id, ms_reports.client_secret) == 200
    assert token_status(live_server.url, client.client_id, new_secret) == 200


def test_the_secret_and_its_curl_line_sit_on_one_line_and_the_copied_line_gets_a_token(
    page, screenshot, live_server, admin_user, ms_doctor
):
    sign_in(page, "alice-admin")
    page.set_viewport_size({"width": 480, "height": 860})
    page.goto("/clients/new/")
    page.fill("#id_name", "ms_billing")
    page.click("button:has-text('Create')")
    page.wait_for_selector("text=Copy the secret now")
    screenshot("client-secret-once-narrow")

    for box in ("#client-secret", "#token-curl"):
        assert page.evaluate(LINE_BOXES, box) == 1, box
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    secret = copied(page, "[data-copy='#client-secret']")
    client = Client.objects.get(name="ms_billing")
    assert client.client_secret != secret and len(secret) == 43

    client.grants.create(scope=ms_doctor.scopes.get(name="doctors:read"))
    curl = copied(page, "[data-copy='#token-curl']")
    assert secret in curl and curl.endswith(f" {live_server.url}/o/token")
    answer = subprocess.run(shlex.split(curl), capture_output=True, text=True, timeout=30, check=True)
    assert json.loads(answer.stdout)["scope"] == "doctors:read"


def test_resubmitting_the_create_form_says_the_client_now_exists_and_links_to_it(page, admin_user, db):
    sign_in(page, "alice-admin")
    page.goto("/clients/new/")
    page.fill("#id_name", "ms_billing")
    page.click("button:has-text('Create')")
    page.wait_for_selector("text=Copy the secret now")

    page.reload()

    page.wait_for_selector("text=now exists")
    assert page.locator("#client-secret").count() == 0
    page.click(".error a:has-text('ms_billing')")
    page.wait_for_selector("h1:has-text('ms_billing')")
    assert Client.objects.filter(name="ms_billing").count() == 1


def test_long_client_names_from_before_the_name_rules_wrap_instead_of_widening_the_pages(
    page, admin_user, ms_doctor
):
    Client.objects.create(name="x" * 255, client_secret="unused")  # as older versions accepted
    sign_in(page, "alice-admin")
    for path in ("/clients/", "/grants/", f"/clients/{Client.objects.get().pk}/"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
