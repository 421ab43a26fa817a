"""The key a process signs with is held in memory without a time limit, and a token is handed out only
if its row commits while that key is still the active, published one: a rotation or a revocation made
by any process counts for the very next token of every process."""

from __future__ import annotations

import jwt
import pytest
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent
from keys.models import SigningKey
from keys.services import key_revoke, key_rotate_now

DOCTORS = "https://doctors.internal"


def kid_of(response) -> str:
    assert response.status_code == 200, response.content
    return jwt.get_unverified_header(response.json()["access_token"])["kid"]


def issued_kids() -> list[str]:
    return [
        details["kid"]
        for details in AuditEvent.objects.filter(event="token.issued").values_list("details", flat=True)
    ]


def test_a_key_revoked_by_another_process_signs_no_token_this_one_hands_out(request_token, ms_admin):
    revoked = kid_of(request_token(ms_admin, resource=DOCTORS))  # this process now holds the key
    key_revoke(kid=revoked, now=timezone.now())  # as `revoke_key` in another process: our memory untouched
    assert kid_of(request_token(ms_admin, resource=DOCTORS)) != revoked
    assert issued_kids().count(revoked) == 1  # the token signed with it again was thrown away unrecorded


def test_after_a_rotation_by_another_process_the_very_next_token_carries_the_new_kid(request_token, ms_admin):
    old = kid_of(request_token(ms_admin, resource=DOCTORS))
    new = key_rotate_now(now=timezone.now()).kid
    assert kid_of(request_token(ms_admin, resource=DOCTORS)) == new
    assert kid_of(request_token(ms_admin, resource=DOCTORS)) == new
    assert sorted(issued_kids()) == sorted([old, new, new])


def test_a_key_that_is_active_but_not_yet_published_signs_no_token(request_token, ms_admin):
    held = kid_of(request_token(ms_admin, resource=DOCTORS))
    SigningKey.objects.filter(kid=held).update(published_at=None)  # as if its JWKS had not been written
    assert request_token(ms_admin, resource=DOCTORS).status_code == 503
    assert issued_kids() == [held]


def test_a_known_clients_token_with_the_held_key_still_costs_one_statement(
    request_token, ms_admin, django_assert_num_queries
):
    request_token(ms_admin, resource=DOCTORS)
    with django_assert_num_queries(1) as captured:
        assert request_token(ms_admin, resource=DOCTORS).status_code == 200
    assert "keys_signingkey" in captured.captured_queries[0]["sql"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the in-flight INSERT is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_the_in_flight_audit_row_is_conditional_on_the_key_too(request_token, ms_admin):
    test_a_key_revoked_by_another_process_signs_no_token_this_one_hands_out(request_token, ms_admin)
