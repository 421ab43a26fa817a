"""The lifecycle's timing, from the settings: shared by the lifecycle (services) and the schedule (selectors)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from core.conf import app_settings


@dataclass(frozen=True)
class LifecycleTiming:
    rotation: timedelta
    prepublish: timedelta
    activation_delay: timedelta  # a staged key must have been published this long before it signs
    retired_keep: timedelta

    @classmethod
    def from_settings(cls) -> LifecycleTiming:
        return cls(
            rotation=timedelta(days=app_settings.KEY_ROTATION_DAYS),
            prepublish=timedelta(seconds=app_settings.KEY_PREPUBLISH_SECONDS),
            activation_delay=timedelta(seconds=app_settings.JWKS_MAX_AGE + app_settings.KEY_MARGIN_SECONDS),
            retired_keep=timedelta(seconds=app_settings.KEY_RETIRED_KEEP_SECONDS),
        )
