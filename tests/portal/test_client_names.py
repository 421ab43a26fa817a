"""Client names follow the service names' rules; names stored before the rules still display."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from clients.models import Client

BAD_NAMES = ["x" * 64, "ms admin", "<b>ms_admin</b>", "MS_ADMIN", "m"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_the_create_form_refuses_names_that_are_not_service_names(admin_client, db, name):
    response = admin_client.post(
        reverse("portal:client_create"), {"name": name, "access_token_lifetime": 600}
    )
    assert response.status_code == 200
    assert b"is not a client name" in response.content
    assert not Client.objects.exists()


def test_the_create_form_says_the_rules(admin_client, db):
    page = admin_client.get(reverse("portal:client_create")).content.decode()
    assert "2–63 lowercase letters, digits, _ or -, starting with a letter" in page
    assert 'maxlength="63"' in page


@pytest.mark.parametrize("name", BAD_NAMES)
def test_create_client_refuses_names_that_are_not_service_names(db, name):
    with pytest.raises(CommandError, match="is not a client name"):
        call_command("create_client", name)
    assert not Client.objects.exists()


def test_a_client_named_before_the_rules_still_displays_and_can_be_edited(admin_client, ms_doctor):
    legacy = Client.objects.create(name="Billing <script>alert(1)</script> " + "x" * 200, client_secret="s")
    escaped = b"Billing &lt;script&gt;alert(1)&lt;/script&gt;"
    for url in (
        reverse("portal:client_list"),
        reverse("portal:client_detail", args=[legacy.pk]),
        reverse("portal:grant_matrix"),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200 and escaped in response.content, url

    response = admin_client.post(
        reverse("portal:client_edit", args=[legacy.pk]),
        {"service": ms_doctor.pk, "access_token_lifetime": 900},
    )
    assert response.status_code == 302
    legacy.refresh_from_db()
    assert legacy.access_token_lifetime == 900 and legacy.service == ms_doctor
