"""A change made in the portal is audited with who made it, from which request and which address."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from tests.conftest import PASSWORD

REQUEST_ID = "req-portal-1234"


@pytest.fixture
def admin_with_request_id(admin_client):
    admin_client.defaults.update(HTTP_X_REQUEST_ID=REQUEST_ID, REMOTE_ADDR="10.1.2.3")
    return admin_client


def test_a_registry_change_row_carries_the_request_id_and_address(admin_with_request_id):
    response = admin_with_request_id.post(
        reverse("portal:service_create"),
        {"name": "ms_rows", "audience": "https://rows.internal", "scopes": "rows:read", "description": ""},
    )
    assert response.status_code == 302
    rows = AuditEvent.objects.filter(event__in=("service.created", "scope.created")).order_by("id")
    assert [(row.event, row.actor, row.request_id, row.remote_addr) for row in rows] == [
        ("service.created", "alice-admin", REQUEST_ID, "10.1.2.3"),
        ("scope.created", "alice-admin", REQUEST_ID, "10.1.2.3"),
    ]


def test_an_unlock_row_carries_the_request_id_and_address(admin_with_request_id):
    admin_with_request_id.post(reverse("portal:lockout_clear"), {"username": "carol"})
    row = AuditEvent.objects.get(event="portal.unlocked")
    assert (row.actor, row.subject, row.request_id, row.remote_addr) == (
        "alice-admin",
        "user:carol",
        REQUEST_ID,
        "10.1.2.3",
    )


def test_sign_in_and_sign_out_rows_carry_the_request_id(client, admin_user):
    client.defaults.update(HTTP_X_REQUEST_ID=REQUEST_ID)
    client.post(reverse("portal:login"), {"username": "alice-admin", "password": "wrong"})
    client.post(reverse("portal:login"), {"username": "alice-admin", "password": PASSWORD})
    client.post(reverse("portal:logout"))
    rows = AuditEvent.objects.filter(
        event__in=("portal.login", "portal.login_failed", "portal.logout")
    ).order_by("id")
    assert [(row.event, row.outcome, row.actor, row.request_id) for row in rows] == [
        ("portal.login_failed", "failure", "alice-admin", REQUEST_ID),
        ("portal.login", "success", "alice-admin", REQUEST_ID),
        ("portal.logout", "success", "alice-admin", REQUEST_ID),
    ]
