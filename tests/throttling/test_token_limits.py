"""Limits at /o/token: failed authentications per client id and per address, quotas; 429 before any
database work; refusals over a limit counted and written as one `token.throttled` row per key and window."""

from __future__ import annotations

import time

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from tests.conftest import basic_auth
from throttling.ledger import ledger_flush
from throttling.models import Throttle, TokenQuota

DOCTORS = "https://doctors.internal"


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.AUTHPORTAL_THROTTLE_CLIENT_FAILURES = 3
    settings.AUTHPORTAL_THROTTLE_ADDRESS_FAILURES = 10
    settings.AUTHPORTAL_THROTTLE_WINDOW_SECONDS = 60


def bad_secret(request_token, registered, *, address: str = "127.0.0.1", **headers):
    return request_token(
        headers={
            "HTTP_AUTHORIZATION": basic_auth(registered.client.client_id, "not-the-secret"),
            "REMOTE_ADDR": address,
            **headers,
        },
        resource=DOCTORS,
    )


def good(request_token, registered, *, address: str = "127.0.0.1", **headers):
    return request_token(registered, headers={"REMOTE_ADDR": address, **headers}, resource=DOCTORS)


def rows(event: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=event).order_by("id"))


def test_a_client_id_over_its_failure_limit_is_refused_429_with_retry_after_and_no_query(
    request_token, ms_admin
):
    answers = [bad_secret(request_token, ms_admin).status_code for _ in range(3)]
    assert answers == [401, 401, 401], bad_secret(request_token, ms_admin).content
    refused = bad_secret(request_token, ms_admin)
    assert refused.status_code == 429
    assert refused.json() == {
        "error": "slow_down",
        "error_description": "Too many failed authentications for this client id; retry later.",
    }
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["Cache-Control"] == "no-store"
    # Without the server's background thread, the first refusal's request wrote the key's Throttle row
    # after answering; the flood that follows costs the database nothing at all.
    with CaptureQueriesContext(connection) as queries:
        flood = [bad_secret(request_token, ms_admin).status_code for _ in range(20)]
    assert flood == [429] * 20
    assert len(queries) == 0, [q["sql"] for q in queries]
    # The right secret is refused too while the client id is throttled: the limit is on the id.
    assert good(request_token, ms_admin).status_code == 429
    assert len(rows("token.denied")) == 3


def test_a_good_client_is_never_throttled_by_another_clients_flood(request_token, ms_admin, ms_reports):
    for _ in range(50):
        bad_secret(request_token, ms_admin, address="203.0.113.7")
    answer = good(request_token, ms_reports, address="198.51.100.1")
    assert answer.status_code == 200, answer.content


def test_an_address_over_its_failure_limit_is_refused_whatever_client_id_it_presents(
    request_token, ms_admin, ms_reports
):
    for index in range(10):
        request_token(
            headers={"HTTP_AUTHORIZATION": basic_auth(f"made-up-{index}", "x"), "REMOTE_ADDR": "203.0.113.9"},
            resource=DOCTORS,
        )
    refused = good(request_token, ms_reports, address="203.0.113.9")
    assert refused.status_code == 429
    assert refused.json()["error_description"].startswith("Too many failed authentications from this address")
    assert good(request_token, ms_reports, address="203.0.113.10").status_code == 200


def test_throttled_refusals_are_written_as_one_row_per_key_and_window_with_their_count(
    request_token, ms_admin
):
    with time_machine.travel(1_800_000_000.5, tick=False):  # the start of a 60-second window
        for _ in range(3 + 25):
            bad_secret(request_token, ms_admin)
        assert rows("token.throttled") == []  # nothing written while the window lasts
    with time_machine.travel(1_800_000_061, tick=False):
        # The next request after the window ended writes it (the server's thread does it at once).
        good(request_token, ms_admin)
    (row,) = rows("token.throttled")
    assert row.actor == ms_admin.client.client_id
    assert row.subject == f"client:{ms_admin.client.client_id}"
    assert row.outcome == "failure"
    assert row.details["limit"] == "client_failures"
    assert row.details["count"] == 25
    assert (row.details["window_start"], row.details["window_end"]) == (
        "2027-01-15T08:00:00+00:00",
        "2027-01-15T08:01:00+00:00",
    )
    assert len(rows("token.denied")) == 3  # 3 + 25 requests: 3 rows of their own, 25 counted in one


def test_an_unregistered_client_id_is_throttled_under_its_fingerprint_never_as_presented(request_token, db):
    presented = "maybe-a-secret-pasted-as-the-id"
    for _ in range(6):
        request_token(headers={"HTTP_AUTHORIZATION": basic_auth(presented, "x")}, resource=DOCTORS)
    ledger_flush(now=time.time() + 3600)
    (row,) = rows("token.throttled")
    assert row.actor.startswith("unregistered:") and presented not in str(row.__dict__)
    assert row.details["count"] == 3
    (throttle,) = Throttle.objects.all()
    assert presented not in (throttle.key + throttle.label)


def test_trusted_proxies_decide_which_address_counts(request_token, ms_admin, ms_reports, settings):
    settings.AUTHPORTAL_TRUSTED_PROXIES = ["10.0.0.0/8"]
    for index in range(10):
        request_token(
            headers={
                "HTTP_AUTHORIZATION": basic_auth(f"made-up-{index}", "x"),
                "REMOTE_ADDR": "10.1.2.3",
                "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.9, 10.9.9.9",  # the client wrote 6.6.6.6
            },
            resource=DOCTORS,
        )
    through_proxy = good(request_token, ms_reports, address="10.1.2.3", HTTP_X_FORWARDED_FOR="198.51.100.4")
    assert through_proxy.status_code == 200, "the proxy's own address is not throttled"
    same_client = good(request_token, ms_reports, address="10.1.2.3", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert same_client.status_code == 429
    # From a peer that is no trusted proxy, X-Forwarded-For is ignored: its own address counts.
    direct = good(request_token, ms_reports, address="192.0.2.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert direct.status_code == 200


def test_a_quota_set_in_the_portal_limits_the_clients_tokens_and_is_audited(
    admin_client, request_token, ms_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_client.post(
            "/security/throttles/quota/", {"client": "ms_admin", "tokens_per_window": "2"}, follow=True
        )
    assert "ms_admin may get 2 tokens per window now." in answer.content.decode()
    assert TokenQuota.objects.get(client=ms_admin.client).tokens_per_window == 2
    (set_row,) = rows("client.quota_set")
    assert set_row.actor == "alice-admin" and set_row.details["new"] == 2
    assert [good(request_token, ms_admin).status_code for _ in range(3)] == [200, 200, 429]
    refused = good(request_token, ms_admin)
    assert refused.json()["error_description"].startswith("This client's token quota")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/security/throttles/quota/", {"client": "ms_admin", "tokens_per_window": ""})
    assert not TokenQuota.objects.exists()
    assert good(request_token, ms_admin).status_code == 200


def test_the_portal_shows_who_is_throttled_and_an_admin_lifts_it_audited(
    admin_client, request_token, ms_admin
):
    for _ in range(4):
        bad_secret(request_token, ms_admin)
    ledger_flush()  # the queued Throttle row (the server's thread writes it within half a second)
    page = admin_client.get("/security/throttles/").content.decode()
    assert ms_admin.client.client_id in page and "failed authentications of a client id" in page
    throttle = Throttle.objects.get()
    lifted = admin_client.post(f"/security/throttles/{throttle.pk}/lift/", follow=True).content.decode()
    assert f"Lifted the limit on {ms_admin.client.client_id}" in lifted
    assert "Nobody is throttled now." in lifted
    (row,) = rows("throttle.lifted")
    assert row.actor == "alice-admin" and row.details["limit"] == "client_failures"
    assert good(request_token, ms_admin).status_code == 200


def test_an_auditor_sees_no_throttling_page_and_cannot_lift(auditor_client, db):
    assert auditor_client.get("/security/throttles/").status_code == 403
    assert auditor_client.post("/security/throttles/quota/", {"client": "x"}).status_code == 403


def test_with_the_limiters_redis_down_requests_are_answered_as_without_limits(
    request_token, ms_admin, settings
):
    from tests.keys.servers import closed_port_url
    from throttling.limiter import limiter_reset

    settings.REDIS_URL = closed_port_url()
    limiter_reset()
    statuses = [bad_secret(request_token, ms_admin).status_code for _ in range(5)]
    assert statuses == [401] * 5
    assert good(request_token, ms_admin).status_code == 200


def test_with_limits_off_nothing_is_throttled(request_token, ms_admin, settings):
    settings.AUTHPORTAL_THROTTLE = False
    assert [bad_secret(request_token, ms_admin).status_code for _ in range(6)] == [401] * 6
