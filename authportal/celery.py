from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authportal.settings")

app = Celery("authportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
# The embedded (filesystem) broker needs its folders before the first message.
for folder in (app.conf.broker_transport_options or {}).values():
    if isinstance(folder, str) and folder.startswith("/"):
        os.makedirs(folder, exist_ok=True)
app.autodiscover_tasks()
