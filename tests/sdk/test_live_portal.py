"""Real tokens from a running portal (pytest-django's live_server), verified by the SDK across a
key rotation and a revocation; TokenClient against the real token endpoint."""

from __future__ import annotations

import threading
import time

import jwt
import pytest
from authportal_client import InvalidClient, InvalidScope, InvalidToken, TokenClient, Verifier
from django.utils import timezone

from audit.models import AuditEvent
from keys.services import key_revoke, key_rotate_now

DOCTORS = "https://doctors.internal"

pytestmark = pytest.mark.django_db(transaction=True)


class ShiftedClock:
    """Wall time plus an offset we control, so the JWKS cache can age without sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def issuer(live_server, settings) -> str:
    settings.AUTHPORTAL_ISSUER = live_server.url
    return live_server.url


@pytest.fixture
def admin_client(issuer, ms_admin) -> TokenClient:
    return TokenClient(issuer, ms_admin.client.client_id, ms_admin.client_secret)


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def test_a_token_from_token_client_verifies_with_keys_discovered_from_the_portal(
    issuer, admin_client, ms_admin
):
    claims = Verifier(issuer, DOCTORS).verify(admin_client.get_token(resource=DOCTORS))
    assert claims.client_id == ms_admin.client.client_id
    assert claims.scopes == {"doctors:read"}
    assert claims.audience == (DOCTORS,)


def test_old_and_new_kid_both_verify_across_a_rotation(issuer, ms_admin):
    clock = ShiftedClock()
    verifier = Verifier(issuer, DOCTORS, clock=clock)
    client = TokenClient(issuer, ms_admin.client.client_id, ms_admin.client_secret)
    old_token = client.get_token(resource=DOCTORS)
    verifier.verify(old_token)
    key_rotate_now(now=timezone.now())  # an emergency rotation: the new key signs before anyone cached it
    client.forget(resource=DOCTORS)
    new_token = client.get_token(resource=DOCTORS)
    assert kid_of(new_token) != kid_of(old_token)
    # At once, no cooldown: a kid never seen before is looked up when the first token names it.
    assert verifier.verify(new_token).client_id == ms_admin.client.client_id
    assert verifier.verify(old_token).client_id == ms_admin.client.client_id  # retired, still published
    assert verifier.keys.fetches == 2


def test_a_revoked_keys_tokens_stop_verifying_once_the_cache_ttl_passes(issuer, ms_admin, settings):
    clock = ShiftedClock()
    verifier = Verifier(issuer, DOCTORS, clock=clock)
    token = TokenClient(issuer, ms_admin.client.client_id, ms_admin.client_secret).get_token(resource=DOCTORS)
    verifier.verify(token)
    key_revoke(kid=kid_of(token), now=timezone.now())
    assert verifier.verify(token)  # inside max-age the cached JWKS still holds the key
    clock.offset = settings.AUTHPORTAL_JWKS_MAX_AGE + 1
    with pytest.raises(InvalidToken, match="unknown key"):
        verifier.verify(token)


def test_fifty_threads_asking_at_once_get_one_token_from_one_request(issuer, admin_client):
    tokens: list[str] = []
    barrier = threading.Barrier(50)

    def ask() -> None:
        barrier.wait()
        tokens.append(admin_client.get_token(resource=DOCTORS))

    threads = [threading.Thread(target=ask) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(tokens) == 50 and len(set(tokens)) == 1
    assert AuditEvent.objects.filter(event="token.issued").count() == 1


def test_wrong_credentials_raise_invalid_client(issuer, ms_admin):
    client = TokenClient(issuer, ms_admin.client.client_id, "not-the-secret")
    with pytest.raises(InvalidClient, match="invalid_client"):
        client.get_token(resource=DOCTORS)


def test_a_scope_not_granted_raises_invalid_scope(issuer, admin_client):
    with pytest.raises(InvalidScope, match="invalid_scope"):
        admin_client.get_token(resource=DOCTORS, scope="doctors:write")


def test_a_token_for_another_service_is_refused_by_this_one(issuer, admin_client):
    token = admin_client.get_token(resource="https://college.internal")
    with pytest.raises(InvalidToken, match="wrong audience"):
        Verifier(issuer, DOCTORS).verify(token)
