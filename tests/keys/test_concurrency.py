"""Two lifecycle steps at the same moment, each on its own database connection."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from keys.models import SigningKey
from keys.services import key_rotate, signing_key_active

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent steps need PostgreSQL (set DATABASE_URL; CI does)"
)


def run_together(step, count: int = 2) -> list[BaseException]:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def worker():
        try:
            barrier.wait()
            step()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_steps_stage_exactly_one_key_and_leave_one_active():
    t0 = timezone.now()
    signing_key_active(now=t0)
    assert run_together(lambda: key_rotate(now=t0 + timedelta(days=29))) == []
    assert SigningKey.objects.filter(state="staged").count() == 1
    assert run_together(lambda: key_rotate(now=t0 + timedelta(days=30))) == []
    assert SigningKey.objects.filter(state="active").count() == 1
    assert SigningKey.objects.filter(state="retired").count() == 1
    assert SigningKey.objects.filter(state="staged").count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_first_keys_leave_one_active():
    assert run_together(lambda: signing_key_active(now=timezone.now()), count=4) == []
    assert SigningKey.objects.filter(state="active").count() == 1
