"""Stored the key lifecycle's beat schedule; the schedule now has one home, core/schedule.py, stored
after every migrate. Kept, empty, so that databases which applied it and those which did not agree."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("keys", "0002_lifecycle"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = []
