"""The audit rows of registry changes: a row validated and saved with its audit row, and a client's change
(one home for its subject and the client's name in its details)."""

from __future__ import annotations

from typing import Any, Protocol

from audit.actor import Actor
from audit.recording import audit_change
from clients.models import Client


def client_change_record(
    *, client: Client, event: str, actor: Actor, details: dict[str, Any] | None = None, name_as: str = "name"
) -> None:
    """Record `event` about `client`: subject `client:ID`, details the client's name (under `name_as`:
    `client` for the grant events, as the catalogue says) then `details`. Call it inside the change's
    transaction."""
    audit_change(
        actor=actor,
        event=event,
        subject=client.audit_subject,
        details={name_as: client.name, **(details or {})},
    )


class RegistryRow(Protocol):
    @property
    def audit_subject(self) -> str: ...

    def full_clean(self) -> None: ...

    def save(self, *, update_fields: list[str] | None = None) -> None: ...


def registry_change_record(row: RegistryRow, event: str, details: dict[str, Any], *, actor: Actor) -> None:
    """Record `event` about a registry row (its `audit_subject`), inside the change's transaction."""
    audit_change(actor=actor, event=event, subject=row.audit_subject, details=details)


def registry_row_save(
    row: RegistryRow,
    event: str,
    details: dict[str, Any],
    *,
    actor: Actor,
    update_fields: list[str] | None = None,
) -> None:
    """Validate `row` (`full_clean`: a ValidationError names the field), save it and record `event`.
    Call it inside the change's transaction, so that the row and its audit row stand or fall together."""
    row.full_clean()
    row.save(update_fields=update_fields)
    registry_change_record(row, event, details, actor=actor)
