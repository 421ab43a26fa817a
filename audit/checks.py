"""Start-up checks for the audit settings and the audit row's columns (`manage.py check`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from audit.chain import EVENT_COLUMNS
from audit.models import AuditEvent

_POSITIVE_INTS = {
    "AUTHPORTAL_AUDIT_RETENTION_DAYS": 400,
    "AUTHPORTAL_AUDIT_SEAL_MAX_EVENTS": 100_000,
    "AUTHPORTAL_AUDIT_GAP_SECONDS": 3600,
}


@register()
def audit_settings_check(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for name, default in _POSITIVE_INTS.items():
        value = getattr(settings, name, default)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            errors.append(Error(f"{name} must be a positive integer, got {value!r}", id="audit.E001"))
    return errors


@register()
def audit_event_columns_check(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    """AuditEvent's columns are chain.EventRow's: a column only one of them has would be left unwritten
    by the token's INSERT, or unsealed."""
    columns = tuple(field.attname for field in AuditEvent._meta.concrete_fields)
    if columns == EVENT_COLUMNS:
        return []
    return [
        Error(
            f"AuditEvent's columns {columns} are not audit.chain.EventRow's {EVENT_COLUMNS}",
            hint="Add the column to EventRow (and a new chain VERSION), or remove it from the model.",
            id="audit.E002",
        )
    ]
