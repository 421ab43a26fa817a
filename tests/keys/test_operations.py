"""What operators touch: the commands, the published files, the KEK, the timing checks, the schedule."""

from __future__ import annotations

import json
from importlib import import_module

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.core.management import CommandError
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from keys.checks import lifecycle_timing_check
from keys.crypto import private_key_decrypt
from keys.models import SigningKey
from keys.services import key_rotate_now, signing_key_active
from keys.tokens import signer_active, signer_cache_clear
from tests.conftest import run_command

State = SigningKey.State


@pytest.mark.django_db
def test_rotate_keys_runs_the_step_and_says_when_nothing_was_due():
    assert "created active" in run_command("rotate_keys")
    assert run_command("rotate_keys") == "Nothing was due.\n"


@pytest.mark.django_db
def test_rotate_keys_now_makes_a_fresh_key_sign():
    first = signing_key_active()
    output = run_command("rotate_keys", "--now")
    active = SigningKey.objects.get(state=State.ACTIVE)
    assert active.kid != first.kid and active.kid in output
    assert SigningKey.objects.get(kid=first.kid).state == State.RETIRED


@pytest.mark.django_db
def test_revoke_key_and_its_errors():
    key = signing_key_active()
    assert "Revoked" in run_command("revoke_key", key.kid)
    with pytest.raises(CommandError, match="already revoked"):
        run_command("revoke_key", key.kid)
    with pytest.raises(CommandError, match="no signing key"):
        run_command("revoke_key", "nope")


# A thumbprint can start with '-', and then with the letter of a short option (-v, -h) or another '-'.
DASHED_KIDS = [
    "-Ab3_" + "x" * 38,
    "-vvjYR67srD6xcek11tsuZUWiuA3ATf7F8DX_jZpXPI",
    "-h" + "Q" * 41,
    "--" + "9" * 41,
]


@pytest.mark.parametrize("kid", DASHED_KIDS)
@pytest.mark.parametrize("actor_first", [False, True])
def test_revoke_key_reads_a_kid_that_starts_with_a_dash(kid, actor_first):
    from keys.management.commands.revoke_key import Command

    argv = ["--actor", "ops", kid] if actor_first else [kid, "--actor", "ops"]
    options = Command().create_parser("manage.py", "revoke_key").parse_args(argv)
    assert (options.kid, options.actor) == (kid, "ops")


@pytest.mark.django_db
def test_revoke_key_revokes_a_key_whose_kid_starts_with_v_after_the_dash():
    key = signing_key_active()
    SigningKey.objects.filter(pk=key.pk).update(kid=DASHED_KIDS[1])
    assert "Revoked " + DASHED_KIDS[1] in run_command("revoke_key", DASHED_KIDS[1], "--actor", "ops")
    assert SigningKey.objects.get(pk=key.pk).state == State.REVOKED


@pytest.mark.django_db
def test_list_keys_shows_state_and_dates():
    key = signing_key_active()
    key_rotate_now(now=timezone.now())
    output = run_command("list_keys")
    header, *rows = output.splitlines()
    assert header.split() == ["kid", "algorithm", "state", "created", "activates", "retires", "expires"]
    assert any(key.kid in row and "retired" in row for row in rows)
    assert any("active" in row for row in rows)


@pytest.mark.django_db
def test_jwks_and_active_pem_are_written_to_files_after_commit(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.AUTHPORTAL_JWKS_FILE = str(tmp_path / "jwks.json")
    settings.AUTHPORTAL_PUBLIC_KEY_FILE = str(tmp_path / "oauth-public.key")
    with django_capture_on_commit_callbacks(execute=True):
        key = signing_key_active()
    assert [k["kid"] for k in json.loads((tmp_path / "jwks.json").read_text())["keys"]] == [key.kid]
    pem = (tmp_path / "oauth-public.key").read_bytes()
    assert (
        load_pem_public_key(pem).public_numbers().n
        == load_pem_public_key(signer_active().jwk.export_to_pem()).public_numbers().n
    )
    with django_capture_on_commit_callbacks(execute=True):
        fresh = key_rotate_now(now=timezone.now())
    assert {k["kid"] for k in json.loads((tmp_path / "jwks.json").read_text())["keys"]} == {
        key.kid,
        fresh.kid,
    }
    assert (tmp_path / "oauth-public.key").read_bytes() != pem
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "jwks.json",
        "oauth-public.key",
    ]  # no temp files left


@pytest.mark.django_db
def test_rotate_kek_reencrypts_every_key_under_the_new_kek(settings):
    old_kek = settings.AUTHPORTAL_KEK
    key = signing_key_active()
    new_kek = "A" * 43 + "="
    settings.AUTHPORTAL_KEK, settings.AUTHPORTAL_KEK_PREVIOUS = new_kek, [old_kek]
    assert "Re-encrypted 1" in run_command("rotate_kek")
    settings.AUTHPORTAL_KEK_PREVIOUS = []
    stored = SigningKey.objects.get(kid=key.kid).private_key_encrypted
    assert private_key_decrypt(stored).thumbprint() == key.kid
    signer_cache_clear()
    assert signer_active().kid == key.kid


@pytest.mark.django_db
def test_rotate_kek_without_the_previous_kek_refuses():
    with pytest.raises(CommandError, match="AUTHPORTAL_KEK_PREVIOUS"):
        run_command("rotate_kek")


@pytest.mark.parametrize(
    ("overrides", "error_id"),
    [
        ({"AUTHPORTAL_KEY_PREPUBLISH_SECONDS": 100}, "keys.E001"),
        ({"AUTHPORTAL_KEY_RETIRED_KEEP_SECONDS": 3600}, "keys.E002"),
        ({"AUTHPORTAL_JWKS_MAX_AGE": 86400}, "keys.E002"),
        ({"AUTHPORTAL_KEY_ROTATION_DAYS": 1}, "keys.E003"),
        ({"AUTHPORTAL_KEK": "short"}, "keys.E004"),
    ],
)
def test_timing_that_would_break_verification_is_refused_at_start_up(settings, overrides, error_id):
    assert lifecycle_timing_check(None) == []
    for name, value in overrides.items():
        setattr(settings, name, value)
    assert error_id in [error.id for error in lifecycle_timing_check(None)]


@pytest.mark.django_db
def test_the_lifecycle_schedule_is_stored_for_admins_to_see():
    tasks = dict(PeriodicTask.objects.filter(task__startswith="keys.").values_list("task", "interval__every"))
    assert tasks == {"keys.tasks.rotate_keys": 5, "keys.tasks.publish_jwks": 1}


@pytest.mark.django_db
def test_jwks_endpoint_serves_the_published_document_not_the_key_table(client):
    signing_key_active()
    SigningKey.objects.update(public_jwk={"kty": "oct", "k": "must-not-be-served"})
    served = client.get("/.well-known/jwks.json").json()
    assert "must-not-be-served" not in json.dumps(served)


@pytest.mark.django_db
def test_tokens_keep_coming_when_the_broker_is_down(request_token, ms_reports, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    assert request_token(ms_reports).status_code == 200


@pytest.mark.django_db
def test_a_live_key_never_published_is_published_by_the_upgrade_and_signs_again(
    client, request_token, ms_admin
):
    from django.apps import apps

    publish_live_keys = import_module("keys.migrations.0004_publish_live_keys").publish_live_keys
    key = signing_key_active()
    SigningKey.objects.filter(pk=key.pk).update(published_at=None)  # as stored before 0002
    assert request_token(ms_admin, resource="https://doctors.internal").status_code == 503
    publish_live_keys(apps, None)
    assert SigningKey.objects.get(pk=key.pk).published_at is not None
    assert [k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]] == [key.kid]
    assert request_token(ms_admin, resource="https://doctors.internal").status_code == 200
