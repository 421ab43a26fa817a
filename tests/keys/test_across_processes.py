"""Key changes as separate server processes see them: two granian servers on the test database,
without Redis (the default set-up) or with Redis down, and the operator's commands."""

from __future__ import annotations

import threading
import time
from io import StringIO

import jwt
import pytest
import requests
from authportal_client import InvalidToken, Verifier
from django.core.management import call_command

from keys.models import SigningKey
from tests.keys.servers import closed_port_url, granian_servers
from tests.servers import manage

DOCTORS = "https://doctors.internal"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def issuer(settings) -> str:
    # Every server's tokens name this issuer; the SDK's verifier discovers the JWKS from it.
    return settings.AUTHPORTAL_ISSUER


def token_from(url: str, registered) -> str:
    response = requests.post(
        f"{url}/o/token",
        data={"grant_type": "client_credentials", "resource": DOCTORS},
        auth=(registered.client.client_id, registered.client_secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def published_kids(url: str) -> set[str]:
    response = requests.get(f"{url}/.well-known/jwks.json", timeout=10)
    assert response.status_code == 200, response.text
    return {key["kid"] for key in response.json()["keys"]}


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def test_after_an_emergency_rotation_every_token_of_either_process_carries_a_kid_both_jwks_list(
    tmp_path, ms_admin
):
    with granian_servers(tmp_path, 2) as servers:
        # Each process signs once, then serves its JWKS a little later: whatever each remembers of
        # either, it remembers from before the rotation.
        old = {kid_of(token_from(url, ms_admin)) for url in servers}
        time.sleep(2)
        for url in servers:
            published_kids(url)
        call_command("rotate_keys", "--now", stdout=StringIO())
        new = SigningKey.objects.get(state=SigningKey.State.ACTIVE).kid
        seen, deadline = set(), time.monotonic() + 7
        while time.monotonic() < deadline:
            for url in servers:
                kid = kid_of(token_from(url, ms_admin))
                listed = [published_kids(other) for other in servers]
                assert all(kid in kids for kids in listed), (kid, listed)
                seen.add(kid)
            time.sleep(0.05)
    assert new in seen and new not in old


def test_a_revoked_active_key_signs_no_token_handed_out_and_leaves_both_jwks_at_once(tmp_path, ms_admin):
    with granian_servers(tmp_path, 2) as servers:
        (revoked,) = {kid_of(token_from(url, ms_admin)) for url in servers}
        assert all(revoked in published_kids(url) for url in servers)
        call_command("revoke_key", revoked, stdout=StringIO())
        deadline = time.monotonic() + 7
        while time.monotonic() < deadline:
            for url in servers:
                assert kid_of(token_from(url, ms_admin)) != revoked
                assert revoked not in published_kids(url)
            time.sleep(0.05)


def test_with_redis_down_the_jwks_is_served_and_keys_can_be_revoked_and_rotated(tmp_path, ms_admin):
    redis_down = closed_port_url()
    with granian_servers(tmp_path, 1, redis_url=redis_down) as (server,):
        first = kid_of(token_from(server, ms_admin))
        assert published_kids(server) == {first}

        rotated = manage(tmp_path, "rotate_keys", "--now", redis_url=redis_down)
        assert rotated.returncode == 0, rotated.stderr[-3000:]
        second = SigningKey.objects.get(state=SigningKey.State.ACTIVE).kid
        assert published_kids(server) == {first, second}
        assert kid_of(token_from(server, ms_admin)) == second

        revoked = manage(tmp_path, "revoke_key", second, redis_url=redis_down)
        assert revoked.returncode == 0, revoked.stderr[-3000:]
        third = SigningKey.objects.get(state=SigningKey.State.ACTIVE).kid
        assert published_kids(server) == {first, third}
        assert kid_of(token_from(server, ms_admin)) == third


def test_an_emergency_rotation_under_load_fails_no_verification_at_an_sdk_verifier_with_defaults(
    tmp_path, issuer, ms_admin
):
    with granian_servers(tmp_path, 2) as servers:
        verifier = Verifier(issuer, DOCTORS, jwks_url=f"{servers[0]}/.well-known/jwks.json")
        verified, failures, stop = [], [], threading.Event()

        def ask_and_verify(url: str) -> None:
            while not stop.is_set():
                token = token_from(url, ms_admin)
                try:
                    verifier.verify(token)
                    verified.append(kid_of(token))
                except InvalidToken as error:
                    failures.append((kid_of(token), str(error)))

        threads = [threading.Thread(target=ask_and_verify, args=(url,)) for url in servers * 2]
        for thread in threads:
            thread.start()
        try:
            time.sleep(2)
            rotation = manage(tmp_path, "rotate_keys", "--now")
            assert rotation.returncode == 0, rotation.stderr[-3000:]
            time.sleep(8)
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
    new = SigningKey.objects.get(state=SigningKey.State.ACTIVE).kid
    assert failures == []
    assert verified.count(new) > 10  # the new key signed, and its tokens verified
