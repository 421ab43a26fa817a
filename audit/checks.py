"""Start-up check that the audit row's columns are the chain's (`manage.py check`; the audit settings' bounds are core/checks.py's)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, register

from audit.chain import EVENT_COLUMNS
from audit.models import AuditEvent


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
