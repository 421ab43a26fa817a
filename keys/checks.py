"""Start-up checks that the lifecycle timing keeps every token verifiable (`manage.py check`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, register
from django.core.exceptions import ImproperlyConfigured

from core.conf import app_settings
from keys.crypto import kek_fernet


@register()
def lifecycle_timing_check(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    max_age = app_settings.JWKS_MAX_AGE
    margin = app_settings.KEY_MARGIN_SECONDS
    prepublish = app_settings.KEY_PREPUBLISH_SECONDS
    keep = app_settings.KEY_RETIRED_KEEP_SECONDS
    rotation = app_settings.KEY_ROTATION_DAYS * 86400
    longest_token = app_settings.TOKEN_LIFETIME_MAX
    if prepublish < max_age + margin:
        errors.append(
            Error(
                f"AUTHPORTAL_KEY_PREPUBLISH_SECONDS ({prepublish}) is shorter than the JWKS max-age plus the margin "
                f"({max_age} + {margin}): a verifier could meet a new key before its cached JWKS has it.",
                hint=f"Set AUTHPORTAL_KEY_PREPUBLISH_SECONDS to at least {max_age + margin}.",
                id="keys.E001",
            )
        )
    # No term for the signer a process holds: a token's row commits only while its key is active.
    needed = longest_token + max_age + margin
    if keep < needed:
        errors.append(
            Error(
                f"AUTHPORTAL_KEY_RETIRED_KEEP_SECONDS ({keep}) is shorter than the longest token lifetime plus the "
                f"JWKS max-age and the margin ({longest_token} + {max_age} + {margin}): a retired key would leave "
                "the JWKS while tokens it signed are still valid.",
                hint=f"Set AUTHPORTAL_KEY_RETIRED_KEEP_SECONDS to at least {needed}.",
                id="keys.E002",
            )
        )
    if rotation <= prepublish:
        errors.append(
            Error(
                f"AUTHPORTAL_KEY_ROTATION_DAYS ({rotation // 86400} days) must be longer than "
                f"AUTHPORTAL_KEY_PREPUBLISH_SECONDS ({prepublish} s): each key is staged before the previous one "
                "has finished signing.",
                id="keys.E003",
            )
        )
    try:
        kek_fernet()
    except ImproperlyConfigured as exc:
        errors.append(Error(str(exc), id="keys.E004"))
    return errors
