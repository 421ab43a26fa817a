from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "Admin REST API"

    def ready(self) -> None:
        from api import schema  # noqa: F401 (registers the authentication schemes with drf-spectacular)
