"""A real Celery worker with beat runs a scheduled rotation; the JWKS served over HTTP follows."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta

import pytest
import requests
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from keys.models import SigningKey
from keys.services import key_rotate, key_rotate_now, signing_key_active
from tests.servers import ROOT, server_environment


def published_kids(base_url: str) -> set[str]:
    return {key["kid"] for key in requests.get(f"{base_url}/.well-known/jwks.json", timeout=5).json()["keys"]}


@pytest.mark.django_db(transaction=True)
def test_a_worker_with_beat_performs_the_scheduled_rotation(live_server, tmp_path):
    if not settings.REDIS_URL:
        print("no REDIS_URL: the worker runs on the embedded filesystem broker")
    now = timezone.now()
    # A key retired long ago that expires in a few seconds, an active key whose rotation is due, and
    # the next key, published two days ago.
    old = signing_key_active(now=now - timedelta(days=40))
    current = key_rotate_now(now=now - timedelta(hours=23, minutes=59, seconds=55))
    SigningKey.objects.filter(pk=current.pk).update(activated_at=now - timedelta(days=31))
    key_rotate(now=now - timedelta(days=2))
    staged = SigningKey.objects.get(state="staged")
    assert published_kids(live_server.url) == {old.kid, current.kid, staged.kid}

    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    # The schedule the migration stores, set to every second (an earlier transactional test's flush
    # may have emptied the table, so it is written here rather than assumed).
    PeriodicTask.objects.update_or_create(
        name="Signing-key lifecycle", defaults={"task": "keys.tasks.rotate_keys", "interval": every_second}
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "authportal",
            "worker",
            "--beat",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--schedule",
            str(tmp_path / "beat-schedule"),
        ],
        cwd=ROOT,
        env=server_environment(tmp_path, redis_url=settings.REDIS_URL),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if (
                published_kids(live_server.url) == {current.kid, staged.kid}
                and SigningKey.objects.filter(kid=staged.kid, state="active").exists()
            ):
                break
            time.sleep(0.5)
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert SigningKey.objects.get(kid=staged.kid).state == "active", output[-3000:]
    assert SigningKey.objects.get(kid=current.kid).state == "retired"
    assert SigningKey.objects.get(kid=old.kid).state == "expired"
    assert published_kids(live_server.url) == {current.kid, staged.kid}, output[-3000:]
    assert "keys.tasks.rotate_keys" in output
