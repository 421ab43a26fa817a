"""Failed sign-ins lock a username at the address they came from, and the username everywhere only
after many more; nobody else at that address is locked out, and every refusal is audited as one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from tests.conftest import PASSWORD

OFFICE, HOME, CAFE = "10.0.0.7", "10.0.0.9", "10.0.0.11"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.AUTHPORTAL_LOGIN_USERNAME_FAILURE_LIMIT = 12
    settings.AXES_COOLOFF_TIME = 0.25  # hours


def sign_in(client, username: str, address: str, password: str = PASSWORD):
    return client.post(
        reverse("portal:login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def fail(client, username: str, address: str, times: int) -> None:
    for _ in range(times):
        sign_in(client, username, address, "wrong password")


def test_another_users_failures_at_the_same_address_do_not_lock_out_an_admin(
    client, admin_user, auditor_user
):
    fail(client, "bob-auditor", OFFICE, 5)
    fail(client, "mallory", OFFICE, 5)

    response = sign_in(client, "alice-admin", OFFICE)

    assert response.status_code == 302
    assert not AuditEvent.objects.filter(actor="alice-admin", outcome="failure").exists()


def test_five_failures_lock_that_username_at_that_address_only_and_say_until_when(client, auditor_user):
    with time_machine.travel(datetime(2026, 12, 2, 9, 0, tzinfo=UTC), tick=False):
        fail(client, "bob-auditor", OFFICE, 5)
        locked = sign_in(client, "bob-auditor", OFFICE)
    assert locked.status_code == 429
    assert b"from this address" in locked.content
    assert b"until 09:15 UTC (15 minutes after the last failure)" in locked.content

    with time_machine.travel(datetime(2026, 12, 2, 9, 1, tzinfo=UTC), tick=False):
        assert sign_in(client, "bob-auditor", HOME).status_code == 302


def test_the_lock_ends_after_the_cool_off(client, auditor_user):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        fail(client, "bob-auditor", OFFICE, 5)
    with time_machine.travel(start + timedelta(minutes=14), tick=False):
        assert sign_in(client, "bob-auditor", OFFICE).status_code == 429
    with time_machine.travel(start + timedelta(minutes=15, seconds=1), tick=False):
        assert sign_in(client, "bob-auditor", OFFICE).status_code == 302


def test_a_username_is_locked_at_every_address_after_the_higher_count(client, auditor_user):
    fail(client, "bob-auditor", OFFICE, 4)
    fail(client, "bob-auditor", HOME, 4)
    fail(client, "bob-auditor", CAFE, 4)

    locked = sign_in(client, "bob-auditor", "10.0.0.99")

    assert locked.status_code == 429
    assert b"from several addresses" in locked.content


def test_a_refused_sign_in_is_audited_as_refused_and_does_not_extend_the_lock(client, auditor_user):
    fail(client, "bob-auditor", OFFICE, 5)
    failures = AuditEvent.objects.filter(event="portal.login_failed").count()
    last_failure = AccessAttempt.objects.get().attempt_time

    sign_in(client, "bob-auditor", OFFICE)  # the right password, refused
    sign_in(client, "bob-auditor", OFFICE, "wrong again")

    assert AuditEvent.objects.filter(event="portal.login_failed").count() == failures == 5
    refused = AuditEvent.objects.filter(event="portal.locked_out", details__refused=True)
    assert refused.count() == 2
    assert refused.first().details["address"] == OFFICE and refused.first().details["everywhere"] is False
    assert AccessAttempt.objects.get().attempt_time == last_failure


def test_the_lockouts_page_lists_address_and_username_locks_and_unlocks_each(
    client, admin_user, auditor_user
):
    fail(client, "bob-auditor", OFFICE, 5)
    fail(client, "carol", HOME, 4)
    fail(client, "carol", CAFE, 4)
    fail(client, "carol", OFFICE, 4)
    client.force_login(admin_user)

    page = client.get(reverse("portal:lockout_list")).content.decode()
    assert "bob-auditor" in page and OFFICE in page
    assert "carol" in page and "every address" in page
    assert "Until" in page

    client.post(reverse("portal:lockout_clear"), {"username": "bob-auditor", "ip_address": OFFICE})
    client.post(reverse("portal:lockout_clear"), {"username": "carol"})
    assert "Nobody is locked out" in client.get(reverse("portal:lockout_list")).content.decode()
    assert AuditEvent.objects.filter(event="portal.unlocked", actor="alice-admin").count() == 2
    client.logout()
    assert sign_in(client, "bob-auditor", OFFICE).status_code == 302
