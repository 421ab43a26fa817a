"""The lifecycle's timing, from the settings: shared by the lifecycle (services) and the schedule (selectors)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings


@dataclass(frozen=True)
class LifecycleTiming:
    rotation: timedelta
    prepublish: timedelta
    activation_delay: timedelta  # a staged key must have been published this long before it signs
    retired_keep: timedelta

    @classmethod
    def from_settings(cls) -> LifecycleTiming:
        return cls(
            rotation=timedelta(days=settings.AUTHPORTAL_KEY_ROTATION_DAYS),
            prepublish=timedelta(seconds=settings.AUTHPORTAL_KEY_PREPUBLISH_SECONDS),
            activation_delay=timedelta(
                seconds=settings.AUTHPORTAL_JWKS_MAX_AGE + settings.AUTHPORTAL_KEY_MARGIN_SECONDS
            ),
            retired_keep=timedelta(seconds=settings.AUTHPORTAL_KEY_RETIRED_KEEP_SECONDS),
        )
