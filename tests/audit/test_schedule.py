"""Beat seals every minute and purges daily, from the schedule stored after migrate (core/schedule.py)."""

from __future__ import annotations

from django_celery_beat.models import PeriodicTask

from audit import tasks
from audit.models import AuditCheckpoint
from keys import tasks as keys_tasks

from .conftest import write_events


def test_the_migration_stores_the_audit_schedule(db):
    scheduled = {
        task.task: task.interval.every for task in PeriodicTask.objects.filter(task__startswith="audit.")
    }
    assert scheduled == {"audit.tasks.seal_audit": 1, "audit.tasks.purge_audit": 1440}


def test_sealing_keeps_the_task_name_the_stored_schedule_runs():
    # Sealing's task lives with the keys (it holds the signer); beat's rows still name it so.
    assert keys_tasks.seal_audit.name == "audit.tasks.seal_audit"


def test_the_tasks_run_the_same_services_as_the_commands(signing_key):
    write_events(3)
    assert keys_tasks.seal_audit() == 1
    assert AuditCheckpoint.objects.get().event_count == 4
    assert tasks.purge_audit() == 0  # nothing past retention yet
