"""A secret is shown once, by the response to the form that made it; submitting that form again
(a reload, a double click, a second tab) never makes another one."""

from __future__ import annotations

import re

from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from clients.models import Client
from tests.conftest import token_status

SHOWN_SECRET = re.compile(rb'id="client-secret"[^>]*>([^<]+)<')


def shown_secret(response) -> str:
    return SHOWN_SECRET.search(response.content).group(1).decode()


def rotate_form(admin_client, client: Client) -> dict:
    """What the rotate page's form posts, as the browser would send it."""
    page = admin_client.get(reverse("portal:client_rotate_secret", args=[client.pk]))
    fields = dict(re.findall(rb'<input type="hidden" name="(\w+)" value="([^"]*)"', page.content))
    return {k.decode(): v.decode() for k, v in fields.items() if k != b"csrfmiddlewaretoken"}


def test_reloading_the_new_secret_page_rotates_nothing_and_says_so(admin_client, ms_reports):
    client = ms_reports.client
    url = reverse("portal:client_rotate_secret", args=[client.pk])
    form = {**rotate_form(admin_client, client), "old_secret_valid_hours": 24}
    new_secret = shown_secret(admin_client.post(url, form))

    reload = admin_client.post(url, form)  # the browser re-sends the same form

    assert reload.status_code == 409
    assert b"already rotated" in reload.content
    assert b'id="client-secret"' not in reload.content
    assert token_status(admin_client, client.client_id, ms_reports.client_secret) == 200  # the overlap holds
    assert token_status(admin_client, client.client_id, new_secret) == 200
    assert AuditEvent.objects.filter(event="client.secret_rotated").count() == 1


def test_a_fresh_rotate_form_rotates_again(admin_client, ms_reports):
    client = ms_reports.client
    url = reverse("portal:client_rotate_secret", args=[client.pk])
    admin_client.post(url, {**rotate_form(admin_client, client), "old_secret_valid_hours": 24})
    second = admin_client.post(url, {**rotate_form(admin_client, client), "old_secret_valid_hours": 24})
    assert second.status_code == 200 and SHOWN_SECRET.search(second.content)
    assert AuditEvent.objects.filter(event="client.secret_rotated").count() == 2


def test_rotating_with_no_overlap_stops_the_old_secret_at_once(admin_client, ms_reports):
    client = ms_reports.client
    url = reverse("portal:client_rotate_secret", args=[client.pk])
    response = admin_client.post(url, {**rotate_form(admin_client, client), "old_secret_valid_hours": 0})

    assert response.status_code == 200, response.content
    new_secret = shown_secret(response)
    assert b"The old secret no longer works" in response.content
    assert token_status(admin_client, client.client_id, ms_reports.client_secret) == 401
    assert token_status(admin_client, client.client_id, new_secret) == 200
    client.refresh_from_db()
    assert client.previous_client_secret == "" and client.previous_secret_expires_at is None
    event = AuditEvent.objects.get(event="client.secret_rotated")
    assert event.details["old_secret_valid_until"] <= timezone.now().isoformat()


def test_resubmitting_the_create_form_says_the_client_now_exists_and_links_to_it(admin_client, db):
    url = reverse("portal:client_create")
    form = {"name": "ms_billing", "access_token_lifetime": 600}
    assert SHOWN_SECRET.search(admin_client.post(url, form).content)

    again = admin_client.post(url, form)

    client = Client.objects.get(name="ms_billing")
    assert again.status_code == 200
    assert b'id="client-secret"' not in again.content
    assert b"now exists" in again.content
    assert f'href="{reverse("portal:client_detail", args=[client.pk])}"'.encode() in again.content
    assert AuditEvent.objects.filter(event="client.created").count() == 1


def test_the_secret_page_shows_a_ready_curl_line_for_the_token_endpoint(admin_client, settings, ms_reports):
    settings.AUTHPORTAL_ISSUER = "http://127.0.0.1:18500"
    client = ms_reports.client
    response = admin_client.post(
        reverse("portal:client_rotate_secret", args=[client.pk]),
        {**rotate_form(admin_client, client), "old_secret_valid_hours": 1},
    )
    secret = shown_secret(response)
    curl = re.search(rb'id="token-curl"[^>]*>([^<]+)<', response.content).group(1).decode()
    assert curl == (
        f"curl -s -u {client.client_id}:{secret} -d grant_type=client_credentials "
        "-d resource=https://doctors.internal http://127.0.0.1:18500/o/token"
    )


def test_every_other_change_form_redirects_after_it_acts(admin_client, ms_doctor, ms_reports):
    """Post/redirect/get: a reload after any change shows a page, it does not post again."""
    client, scope = ms_reports.client, ms_doctor.scopes.get(name="doctors:write")
    posts = [
        (reverse("portal:service_create"), {"name": "ms_orders", "audience": "https://orders.internal"}),
        (reverse("portal:service_edit", args=[ms_doctor.pk]), {"description": "Doctors"}),
        (reverse("portal:scope_create", args=[ms_doctor.pk]), {"scopes": "doctors:audit"}),
        (reverse("portal:client_edit", args=[client.pk]), {"access_token_lifetime": 900}),
        (reverse("portal:client_disable", args=[client.pk]), {}),
        (reverse("portal:client_enable", args=[client.pk]), {}),
        (reverse("portal:grant_toggle"), {"client": client.pk, "scope": scope.pk, "action": "revoke"}),
        (reverse("portal:key_rotate"), {}),
        (reverse("portal:lockout_clear"), {"username": "nobody"}),
        (reverse("portal:scope_delete", args=[ms_doctor.pk, scope.pk]), {}),
        (reverse("portal:client_delete", args=[client.pk]), {"confirmation": "ms_reports"}),
    ]
    for url, data in posts:
        assert admin_client.post(url, data).status_code == 302, url
