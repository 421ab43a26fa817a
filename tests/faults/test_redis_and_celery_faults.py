"""Redis stopped, and no Celery worker, under load: tokens keep coming, fast, each with its row."""

from __future__ import annotations

import time

import jwt
import pytest
import requests

from tests.faults.conftest import Load, Portal, assert_every_token_has_one_row, wait_until

pytestmark = pytest.mark.faults

# Tokens need neither Redis nor Celery: no answer waits on them (a busy machine aside).
FAST = 2.0


def jwks(portal: Portal) -> requests.Response:
    return requests.get(f"{portal.url}/.well-known/jwks.json", timeout=5)


def active_kid(portal: Portal) -> str:
    ((kid,),) = portal.postgres.query("SELECT kid FROM keys_signingkey WHERE state = 'active'")
    return kid


def test_with_redis_stopped_tokens_jwks_and_key_commands_keep_working(served: Portal):
    with Load(served) as load:
        wait_until(lambda: len(load.tokens()) >= 20, timeout=15, what="tokens before the fault")
        before = len(load.answers)
        served.redis.stop()
        old_kid = active_kid(served)
        rotated = served.manage("rotate_keys", "--now")
        revoked = served.manage("revoke_key", old_kid)
        published = jwks(served)
        time.sleep(2)
        during = load.since(before)
    # Issuance first: it must never have noticed.
    assert not load.failures, load.failures[:3]
    assert during and {answer.status for answer in during} == {200}, {a.status for a in during}
    assert max(answer.seconds for answer in during) < FAST
    assert_every_token_has_one_row(served, load.tokens())
    # Then the keys: the emergency commands work, and the JWKS is served from the database.
    assert rotated.returncode == 0, rotated.stdout[-2000:] + rotated.stderr[-2000:]
    assert revoked.returncode == 0, revoked.stdout[-2000:] + revoked.stderr[-2000:]
    assert published.status_code == 200, published.text[:300]
    kids = {key["kid"] for key in published.json()["keys"]}
    assert old_kid not in kids and active_kid(served) in kids


def test_without_a_celery_worker_an_overdue_rotation_does_not_stop_issuance(served: Portal):
    # No worker or beat runs in these tests: the rotation, 10 days overdue, never happens.
    kid = active_kid(served)
    served.postgres.query(
        "UPDATE keys_signingkey SET activated_at = now() - interval '40 days' WHERE kid = %s RETURNING kid",
        kid,
    )
    with Load(served) as load:
        wait_until(lambda: len(load.tokens()) >= 200, timeout=30, what="200 tokens")
    assert not load.failures, load.failures[:3]
    assert {answer.status for answer in load.answers} == {200}
    assert {jwt.get_unverified_header(token)["kid"] for token in load.tokens()} == {kid}
    assert max(answer.seconds for answer in load.answers) < FAST
    assert_every_token_has_one_row(served, load.tokens())
