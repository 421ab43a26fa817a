"""Every AUTHPORTAL_* setting is written once (core/conf.py) and read through `app_settings`."""

from __future__ import annotations

import os

import pytest
from django.core.checks import run_checks
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from core.checks import settings_check
from core.conf import AppSettings, BoolSetting, IntSetting, app_settings
from core.schedule import BEAT_SCHEDULE
from tests.project.processes import manage_py


def test_an_override_is_read_at_once(settings):
    assert app_settings.JWKS_MAX_AGE == settings.AUTHPORTAL_JWKS_MAX_AGE
    settings.AUTHPORTAL_JWKS_MAX_AGE = 17
    assert app_settings.JWKS_MAX_AGE == 17
    settings.AXES_FAILURE_LIMIT = 3  # the login limit is the one django-axes reads
    assert app_settings.LOGIN_FAILURE_LIMIT == 3


def test_after_an_override_the_configured_value_is_read_again(settings):
    configured = app_settings.ISSUER
    settings.AUTHPORTAL_ISSUER = "https://elsewhere.example"
    assert app_settings.ISSUER == "https://elsewhere.example"
    settings.AUTHPORTAL_ISSUER = configured
    assert configured == app_settings.ISSUER


def test_an_unset_environment_gives_the_defaults_written_in_core_conf(tmp_path):
    specs = [spec for spec in AppSettings.specs() if isinstance(spec, IntSetting | BoolSetting)]
    specs = [
        spec
        for spec in specs
        if spec.attribute not in ("HTTPS", "SSL_REDIRECT", "HSTS_SECONDS", "HSTS_PRELOAD")
    ]
    names = ", ".join(f"settings.{spec.setting}" for spec in specs)
    code = f"from django.conf import settings; print(repr([{names}]))"
    without = tuple(name for name in os.environ if name.startswith("AUTHPORTAL_"))
    result = manage_py(tmp_path, "shell", "-v", "0", "-c", code, without=without)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr([spec.default for spec in specs])


@pytest.mark.parametrize(
    ("name", "value", "error_id"),
    [
        ("AUTHPORTAL_AUDIT_GAP_SECONDS", 0, "audit.E001"),
        ("AUTHPORTAL_AUDIT_RETENTION_DAYS", "400", "audit.E001"),
        ("AUTHPORTAL_TOKEN_REQUEST_MAX_BYTES", 10**6, "core.E001"),
        ("AUTHPORTAL_SIGNING_ALG", "HS256", "core.E001"),
        ("AUTHPORTAL_TOKEN_LIFETIME_DEFAULT", 3000, None),  # within bounds, over the max below
    ],
)
def test_manage_py_check_holds_an_override_to_the_same_bounds(settings, name, value, error_id):
    setattr(settings, name, value)
    if error_id is None:
        settings.AUTHPORTAL_TOKEN_LIFETIME_MAX = 600
        error_id = "core.E002"
    errors = settings_check(None)
    assert [error.id for error in errors] == [error_id]
    assert name in errors[0].msg


def test_the_configured_settings_pass_their_checks():
    assert settings_check(None) == []
    assert [error for error in run_checks() if error.id.startswith("core.")] == []


def test_migrate_stores_the_whole_beat_schedule(db):
    stored = {task.name: (task.task, task.interval.every) for task in PeriodicTask.objects.all()}
    assert stored == {entry.name: (entry.task, entry.every_minutes) for entry in BEAT_SCHEDULE}


def test_an_admins_change_to_the_schedule_survives_the_next_migrate(db):
    from django.apps import apps

    from core.schedule import beat_schedule_install

    seal = PeriodicTask.objects.get(task="audit.tasks.seal_audit")
    seal.interval = IntervalSchedule.objects.create(every=7, period="minutes")
    seal.save()
    PeriodicTask.objects.filter(task="portal.tasks.roll_up_token_usage").delete()
    assert beat_schedule_install(apps=apps) == 1
    assert PeriodicTask.objects.get(task="audit.tasks.seal_audit").interval.every == 7
    assert PeriodicTask.objects.filter(task="portal.tasks.roll_up_token_usage").count() == 1
