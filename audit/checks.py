"""Start-up checks for the audit settings (`manage.py check`)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register

_POSITIVE_INTS = {
    "AUTHPORTAL_AUDIT_RETENTION_DAYS": 400,
    "AUTHPORTAL_AUDIT_SEAL_MAX_EVENTS": 100_000,
    "AUTHPORTAL_AUDIT_GAP_SECONDS": 3600,
}


@register()
def audit_settings_check(app_configs, **kwargs) -> list[Error]:
    errors = []
    for name, default in _POSITIVE_INTS.items():
        value = getattr(settings, name, default)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            errors.append(Error(f"{name} must be a positive integer, got {value!r}", id="audit.E001"))
    return errors
