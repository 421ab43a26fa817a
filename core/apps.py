from __future__ import annotations

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "AuthPortal core"

    def ready(self) -> None:
        from core import checks  # noqa: F401  (registers the settings checks)
        from core.schedule import beat_schedule_install

        # After every `migrate`, once django-celery-beat's tables exist; idempotent.
        post_migrate.connect(
            beat_schedule_install,
            sender=apps.get_app_config("django_celery_beat"),
            dispatch_uid="core.beat_schedule_install",
        )
