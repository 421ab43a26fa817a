"""A key service reloads this process's signer itself, once its change commits: no caller has to."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from keys import tokens
from keys.models import SigningKey
from keys.services import key_revoke, key_rotate_now, signer_ready, signing_key_active
from keys.tokens import NoActiveKey, signer_active

pytestmark = pytest.mark.django_db


def active_kid() -> str:
    return SigningKey.objects.get(state=SigningKey.State.ACTIVE).kid


def test_rotate_keys_now_moves_the_signer_of_the_process_that_ran_it(django_capture_on_commit_callbacks):
    first = signing_key_active()
    assert signer_active().kid == first.kid
    with django_capture_on_commit_callbacks(execute=True):
        call_command("rotate_keys", "--now", "--actor", "ops", stdout=io.StringIO())
    assert active_kid() != first.kid
    assert signer_active().kid == active_kid()  # nobody cleared a cache


def test_a_revoked_key_leaves_this_process_memory_when_the_revocation_commits(
    django_capture_on_commit_callbacks,
):
    first = signing_key_active()
    signer_active()
    with django_capture_on_commit_callbacks(execute=True):
        key_revoke(kid=first.kid, now=timezone.now())
    assert set(tokens._loaded) == {active_kid()}
    assert signer_active().kid == active_kid() != first.kid


def test_a_rolled_back_rotation_leaves_the_signer_as_it_was(django_capture_on_commit_callbacks):
    first = signing_key_active()
    signer_active()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        key_rotate_now(now=timezone.now())
    assert callbacks  # registered, and run only by a commit
    assert signer_active().kid == first.kid


def test_signing_never_creates_a_key_the_token_path_bootstraps_through_the_lifecycle():
    with pytest.raises(NoActiveKey):
        signer_active()
    assert not SigningKey.objects.exists()
    assert signer_ready().kid == active_kid()
