"""Every change made in the portal ends with a message saying what happened, and the risky ones ask first."""

from __future__ import annotations

import jwt
import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from keys.services import signing_key_active


def message_of(response) -> str:
    texts = [str(m) for m in response.context["messages"]]
    assert len(texts) == 1, texts
    return texts[0]


def test_registering_editing_and_changing_scopes_of_a_service_says_what_happened(admin_client, ms_doctor):
    created = admin_client.post(
        reverse("portal:service_create"),
        {"name": "ms_orders", "audience": "https://orders.internal", "scopes": "orders:read orders:write"},
        follow=True,
    )
    assert message_of(created) == "Registered ms_orders with 2 scopes: orders:read orders:write."
    edited = admin_client.post(
        reverse("portal:service_edit", args=[ms_doctor.pk]),
        {"description": "Doctors", "owner_contact": ""},
        follow=True,
    )
    assert message_of(edited) == "Saved ms_doctor."
    added = admin_client.post(
        reverse("portal:scope_create", args=[ms_doctor.pk]), {"scopes": "doctors:admin"}, follow=True
    )
    assert message_of(added) == "Added doctors:admin to ms_doctor."
    scope = ms_doctor.scopes.get(name="doctors:admin")
    removed = admin_client.post(reverse("portal:scope_delete", args=[ms_doctor.pk, scope.pk]), follow=True)
    assert message_of(removed) == "Removed doctors:admin from ms_doctor, and every grant of it."


def test_creating_editing_and_switching_a_client_says_what_happened(admin_client, ms_doctor, ms_reports):
    created = admin_client.post(
        reverse("portal:client_create"), {"name": "ms_billing", "access_token_lifetime": 600}
    )
    assert message_of(created) == "Created the client ms_billing."
    pk = ms_reports.client.pk
    edited = admin_client.post(
        reverse("portal:client_edit", args=[pk]),
        {"service": ms_doctor.pk, "access_token_lifetime": 300},
        follow=True,
    )
    assert message_of(edited) == "Saved ms_reports."
    disabled = admin_client.post(reverse("portal:client_disable", args=[pk]), follow=True)
    assert message_of(disabled) == "Disabled ms_reports: it gets no new tokens until it is enabled again."
    enabled = admin_client.post(reverse("portal:client_enable", args=[pk]), follow=True)
    assert message_of(enabled) == "Enabled ms_reports: it can get tokens again."
    rotated = admin_client.post(
        reverse("portal:client_rotate_secret", args=[pk]),
        {"old_secret_valid_hours": 24, "secret_version": ms_reports.client.secret_version()},
        follow=True,
    )
    assert message_of(rotated).startswith("Rotated the secret of ms_reports; the old one works until ")
    deleted = admin_client.post(
        reverse("portal:client_delete", args=[pk]), {"confirmation": "ms_reports"}, follow=True
    )
    assert message_of(deleted) == "Deleted ms_reports."


def test_granting_and_revoking_says_what_happened(admin_client, ms_doctor, ms_reports):
    write = ms_doctor.scopes.get(name="doctors:write")
    url = reverse("portal:grant_toggle")
    revoked = admin_client.post(
        url, {"client": ms_reports.client.pk, "scope": write.pk, "action": "revoke"}, follow=True
    )
    assert message_of(revoked) == "Revoked doctors:write from ms_reports."
    granted = admin_client.post(
        url, {"client": ms_reports.client.pk, "scope": write.pk, "action": "grant"}, follow=True
    )
    assert message_of(granted) == "Granted doctors:write to ms_reports."


def test_rotating_and_revoking_keys_says_what_happened(admin_client, db):
    first = signing_key_active()
    rotated = admin_client.post(reverse("portal:key_rotate"), {"active_kid": first.kid}, follow=True)
    assert message_of(rotated).startswith("Rotated: the new key ")
    revoked = admin_client.post(
        reverse("portal:key_revoke", args=[first.kid]), {"confirmation": first.kid}, follow=True
    )
    assert message_of(revoked) == f"Revoked the key {first.kid}: it is out of the JWKS."


def test_unlocking_says_who_was_unlocked(admin_client, settings):
    AccessAttempt.objects.create(
        username="bob", ip_address="10.0.0.7", failures_since_start=settings.AXES_FAILURE_LIMIT
    )
    response = admin_client.post(reverse("portal:lockout_clear"), {"username": "bob"}, follow=True)
    assert message_of(response) == "Unlocked bob."


@pytest.mark.parametrize(
    ("page", "action", "question"),
    [
        ("client_detail", "client_disable", "Disable ms_reports?"),
        ("lockout_list", "lockout_clear", "Unlock bob"),
    ],
)
def test_disabling_a_client_and_unlocking_ask_first(
    admin_client, ms_reports, settings, page, action, question
):
    AccessAttempt.objects.create(
        username="bob", ip_address="10.0.0.7", failures_since_start=settings.AXES_FAILURE_LIMIT
    )
    args = [ms_reports.client.pk] if page == "client_detail" else []
    html = admin_client.get(reverse(f"portal:{page}", args=args)).content.decode()
    form = html[html.index(f'action="{reverse(f"portal:{action}", args=args)}"') :]
    assert f'data-confirm="{question}' in form[: form.index(">")]


def test_revoking_one_token_by_its_jti_says_what_happened(admin_client, request_token, ms_reports):
    from revocation.models import RevokedToken

    token = request_token(ms_reports).json()["access_token"]
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    url = reverse("portal:token_revoke", args=[ms_reports.client.pk])
    assert (
        message_of(admin_client.post(url, {"jti": ""}, follow=True)) == "Give the jti of the token to revoke."
    )
    unknown = message_of(admin_client.post(url, {"jti": "no-such-jti"}, follow=True))
    assert unknown == "No token with the jti 'no-such-jti' was issued."
    assert not RevokedToken.objects.exists()
    revoked = message_of(admin_client.post(url, {"jti": f"  {jti} "}, follow=True))
    assert revoked == f"Revoked the token {jti} of client {ms_reports.client.client_id}."
    assert RevokedToken.objects.filter(jti=jti).exists()
