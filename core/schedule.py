"""The beat schedule: every periodic task, in one place.

It is stored with django-celery-beat (`DatabaseScheduler`) so that an admin can see and change it.
After every `migrate`, `beat_schedule_install` adds each task that is not stored yet, by name, and
leaves stored ones as they are, so an admin's change survives and a task added here reaches an
existing database with its next `migrate`. (Celery's own `beat_schedule` setting would be written
over the stored rows each time beat starts, undoing an admin's change.)

Until this module, each app's migration stored its own part (audit 0004, keys 0003, portal 0003);
a database made then already holds these rows under the same names, so nothing changes for it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from django.apps import apps as global_apps
from django.apps.registry import Apps


class ScheduledTask(NamedTuple):
    name: str  # the row's name, which an admin sees; the key that says whether it is stored
    task: str
    every_minutes: int


BEAT_SCHEDULE = (
    ScheduledTask("Signing-key lifecycle", "keys.tasks.rotate_keys", 5),
    ScheduledTask("Publish JWKS", "keys.tasks.publish_jwks", 1),
    ScheduledTask("Seal audit events", "audit.tasks.seal_audit", 1),
    ScheduledTask("Purge audit events past retention", "audit.tasks.purge_audit", 60 * 24),
    ScheduledTask("Roll up token usage", "portal.tasks.roll_up_token_usage", 1),
    ScheduledTask("Purge spent client assertion jtis", "oauth.tasks.purge_used_client_assertions", 60),
    ScheduledTask("Purge expired revocations", "revocation.tasks.purge_revocations", 60),
)


def beat_schedule_install(*, apps: Apps | None = None, using: str = "default", **kwargs: Any) -> int:
    """Store every task of BEAT_SCHEDULE not stored yet; returns how many were added.

    Connected to `post_migrate` (core/apps.py); `apps` is the migrated state, which may lack
    django-celery-beat's tables (`migrate django_celery_beat zero`): then it does nothing. A test's
    flush sends the signal without `apps`: the installed models then.
    """
    apps = apps or global_apps
    try:
        IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    except LookupError:
        return 0
    added = 0
    for entry in BEAT_SCHEDULE:
        if PeriodicTask.objects.using(using).filter(name=entry.name).exists():
            continue
        intervals = IntervalSchedule.objects.using(using).filter(every=entry.every_minutes, period="minutes")
        interval = intervals.order_by("pk").first() or intervals.create(
            every=entry.every_minutes, period="minutes"
        )
        PeriodicTask.objects.using(using).create(name=entry.name, task=entry.task, interval=interval)
        added += 1
    return added
