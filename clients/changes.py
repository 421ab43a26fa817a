"""The audit row of a change to a client: one home for its subject and the client's name in its details."""

from __future__ import annotations

from typing import Any

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
        subject=f"client:{client.client_id}",
        details={name_as: client.name, **(details or {})},
    )
