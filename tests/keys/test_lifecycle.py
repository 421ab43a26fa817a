"""staged → active → retired → expired, and revoked: each step decided from stored timestamps."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from django.utils import timezone

from audit.actor import Actor
from audit.models import AuditEvent
from keys.models import SigningKey
from keys.services import (
    KeyChanged,
    KeyNotFound,
    KeyStateError,
    key_revoke,
    key_rotate,
    key_rotate_now,
    signer_ready,
    signing_key_active,
)
from keys.tokens import signer_active, signer_cache_clear

State = SigningKey.State
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}
DAY = timedelta(days=1)


@pytest.fixture
def t0():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def first_key(db, t0):
    return signing_key_active(now=t0)


def published_kids(client) -> list[str]:
    return [key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]]


def states() -> dict[str, str]:
    return dict(SigningKey.objects.values_list("kid", "state"))


def test_the_first_key_is_created_active_and_published(client, first_key):
    assert first_key.state == State.ACTIVE
    assert published_kids(client) == [first_key.kid]
    assert first_key.published_at is not None or SigningKey.objects.get().published_at is not None


def test_nothing_happens_before_the_next_key_is_due(first_key, t0):
    report = key_rotate(now=t0 + 28 * DAY)
    assert report.changes == []
    assert states() == {first_key.kid: State.ACTIVE}


def test_next_key_is_staged_a_day_before_rotation_and_published_but_not_signing(client, first_key, t0):
    report = key_rotate(now=t0 + 29 * DAY)
    staged = SigningKey.objects.get(state=State.STAGED)
    assert report.changes == [f"{staged.kid} staged"]
    assert published_kids(client) == [first_key.kid, staged.kid]
    assert signer_active().kid == first_key.kid


def test_next_key_is_published_before_it_signs(first_key, t0, settings):
    # The worker was down until rotation was overdue: the key it stages late must still wait a max-age.
    late = t0 + 40 * DAY
    key_rotate(now=late)
    staged = SigningKey.objects.get(state=State.STAGED)
    assert key_rotate(now=late + timedelta(seconds=settings.AUTHPORTAL_JWKS_MAX_AGE)).changes == []
    report = key_rotate(now=late + timedelta(seconds=settings.AUTHPORTAL_JWKS_MAX_AGE + 60))
    assert report.changes == [f"{first_key.kid} retired", f"{staged.kid} activated"]


def test_staged_key_activates_when_due_and_the_old_key_retires_still_published(client, first_key, t0):
    key_rotate(now=t0 + 29 * DAY)
    staged = SigningKey.objects.get(state=State.STAGED)
    key_rotate(now=t0 + 30 * DAY)
    assert states() == {first_key.kid: State.RETIRED, staged.kid: State.ACTIVE}
    assert set(published_kids(client)) == {first_key.kid, staged.kid}
    signer_cache_clear()
    assert signer_active().kid == staged.kid
    retired = SigningKey.objects.get(kid=first_key.kid)
    assert retired.expires_at == t0 + 30 * DAY + timedelta(seconds=86400)


def test_a_retired_key_expires_after_its_tokens_and_loses_its_private_half(client, first_key, t0):
    key_rotate(now=t0 + 29 * DAY)
    key_rotate(now=t0 + 30 * DAY)
    key_rotate(now=t0 + 31 * DAY - timedelta(seconds=1))
    assert SigningKey.objects.get(kid=first_key.kid).state == State.RETIRED
    key_rotate(now=t0 + 31 * DAY)
    expired = SigningKey.objects.get(kid=first_key.kid)
    assert expired.state == State.EXPIRED
    assert expired.private_key_encrypted == ""
    assert first_key.kid not in published_kids(client)


def test_the_step_is_idempotent(first_key, t0):
    key_rotate(now=t0 + 29 * DAY)
    before = states()
    assert key_rotate(now=t0 + 29 * DAY).changes == []
    assert key_rotate(now=t0 + 29 * DAY + timedelta(hours=1)).changes == []
    assert states() == before
    assert SigningKey.objects.filter(state=State.ACTIVE).count() == 1


def test_every_transition_is_an_audit_event(first_key, t0):
    key_rotate(now=t0 + 29 * DAY)
    key_rotate(now=t0 + 30 * DAY)
    key_rotate(now=t0 + 31 * DAY)
    events = list(
        AuditEvent.objects.filter(event__startswith="key.")
        .order_by("occurred_at", "id")
        .values_list("event", "subject")
    )
    staged = SigningKey.objects.get(state=State.ACTIVE).kid
    assert events == [
        ("key.activated", f"key:{first_key.kid}"),
        ("key.staged", f"key:{staged}"),
        ("key.retired", f"key:{first_key.kid}"),
        ("key.activated", f"key:{staged}"),
        ("key.expired", f"key:{first_key.kid}"),
    ]


def test_emergency_rotation_signs_with_a_fresh_key_at_once(client, first_key, t0):
    fresh = key_rotate_now(now=t0 + DAY, actor=Actor(name="tester"))
    assert states() == {first_key.kid: State.RETIRED, fresh.kid: State.ACTIVE}
    assert set(published_kids(client)) == {first_key.kid, fresh.kid}
    assert AuditEvent.objects.filter(event="key.retired", actor="tester").exists()


def test_emergency_rotation_activates_the_staged_key_once_verifiers_hold_it(client, first_key, t0, settings):
    key_rotate(now=t0 + 29 * DAY)
    staged = SigningKey.objects.get(state=State.STAGED)
    held = (
        t0
        + 29 * DAY
        + timedelta(seconds=settings.AUTHPORTAL_JWKS_MAX_AGE + settings.AUTHPORTAL_KEY_MARGIN_SECONDS)
    )
    assert key_rotate_now(now=held).kid == staged.kid
    assert states() == {first_key.kid: State.RETIRED, staged.kid: State.ACTIVE}
    assert set(published_kids(client)) == {first_key.kid, staged.kid}


def test_emergency_rotation_passes_over_a_staged_key_published_too_recently(client, first_key, t0):
    key_rotate(now=t0 + 29 * DAY)
    staged = SigningKey.objects.get(state=State.STAGED)
    fresh = key_rotate_now(now=t0 + 29 * DAY + timedelta(seconds=10))
    assert fresh.kid not in (first_key.kid, staged.kid)
    assert states() == {first_key.kid: State.RETIRED, staged.kid: State.STAGED, fresh.kid: State.ACTIVE}


def test_a_revoked_key_leaves_the_jwks_at_once_and_the_staged_key_takes_over(client, first_key, t0):
    key_rotate(now=t0 + 29 * DAY)
    staged = SigningKey.objects.get(state=State.STAGED)
    key_revoke(kid=first_key.kid, now=t0 + 29 * DAY + timedelta(hours=1))
    revoked = SigningKey.objects.get(kid=first_key.kid)
    assert revoked.state == State.REVOKED
    assert revoked.private_key_encrypted == ""
    assert published_kids(client) == [staged.kid]
    assert SigningKey.objects.get(kid=staged.kid).state == State.ACTIVE
    assert AuditEvent.objects.filter(event="key.revoked", subject=f"key:{first_key.kid}").exists()


def test_revoking_the_only_key_makes_a_fresh_one(client, first_key, t0):
    key_revoke(kid=first_key.kid, now=t0)
    (active,) = SigningKey.objects.filter(state=State.ACTIVE)
    assert active.kid != first_key.kid
    assert published_kids(client) == [active.kid]


def test_revoking_an_unknown_or_gone_key_is_an_error(first_key, t0):
    with pytest.raises(KeyNotFound):
        key_revoke(kid="../../etc/passwd", now=t0)
    key_revoke(kid=first_key.kid, now=t0)
    with pytest.raises(KeyStateError):
        key_revoke(kid=first_key.kid, now=t0)


def test_changing_the_algorithm_goes_through_staging(first_key, t0, settings):
    settings.AUTHPORTAL_SIGNING_ALG = "ES256"
    key_rotate(now=t0 + DAY)
    staged = SigningKey.objects.get(state=State.STAGED)
    assert staged.algorithm == "ES256"
    assert SigningKey.objects.get(state=State.ACTIVE).kid == first_key.kid
    key_rotate(now=t0 + DAY + timedelta(minutes=10))
    assert SigningKey.objects.get(state=State.ACTIVE).kid == staged.kid


@pytest.mark.parametrize("algorithm", ["RS256", "PS256", "ES256", "EdDSA"])
def test_each_algorithm_signs_tokens_pyjwt_verifies_and_publishes_only_public_members(
    client, db, settings, algorithm
):
    settings.AUTHPORTAL_SIGNING_ALG = algorithm
    token = signer_ready().sign({"iss": "x", "sub": "y", "exp": 4102444800})
    (jwk,) = client.get("/.well-known/jwks.json").json()["keys"]
    assert not PRIVATE_MEMBERS & set(jwk)
    assert jwk["alg"] == algorithm
    claims = jwt.decode(token, key=jwt.PyJWK(jwk), algorithms=[algorithm], options={"verify_aud": False})
    assert claims["sub"] == "y"
    assert jwt.get_unverified_header(token) == {"alg": algorithm, "kid": jwk["kid"], "typ": "at+jwt"}


def test_rotate_now_naming_a_key_no_longer_active_changes_nothing(db):
    first = signing_key_active()
    second = key_rotate_now(now=timezone.now(), expected_active_kid=first.kid)
    with pytest.raises(KeyChanged) as refused:
        key_rotate_now(now=timezone.now(), expected_active_kid=first.kid)
    assert refused.value.active_kid == second.kid
    assert SigningKey.objects.get(state="active").kid == second.kid
    assert SigningKey.objects.count() == 2
