"""Who made a change, as the audit log names them.

Every service that changes state takes an `Actor` and passes it to `audit_record`, so a change row
names its author and, when the change came through a request, that request's id and address.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from typing import Protocol


class NamedUser(Protocol):
    """A portal user (Django's `User`), as far as the audit log cares."""

    @property
    def username(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Actor:
    """The author of a change: a portal user, an operator's command, or the system itself."""

    name: str
    request_id: str = ""
    remote_addr: str | None = None

    @classmethod
    def of_user(cls, user: NamedUser, *, request_id: str = "", remote_addr: str | None = None) -> Actor:
        return cls(name=user.username, request_id=request_id, remote_addr=remote_addr)


# Scheduled work (Celery beat) and the first-run bootstrap act as the system.
SYSTEM = Actor(name="system")


ACTOR_HELP = "who to record in the audit log as acting (default: os:USER, the user running this command)"


def operator_name(explicit: str | None = None) -> str:
    """Who runs a management command: `--actor NAME` when given, else the OS user ("os:alice")."""
    if explicit:
        return explicit
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return f"os:uid-{os.getuid()}"


def operator(explicit: str | None = None) -> Actor:
    """The operator running a management command, as an Actor (`--actor NAME`, else the OS user)."""
    return Actor(name=operator_name(explicit))


def actor_name(user: object) -> str:
    """How a portal user, an operator's name or an Actor appears in the audit log (None: the system).

    For the services that do not take an `Actor` yet.
    """
    if user is None:
        return SYSTEM.name
    if isinstance(user, Actor):
        return user.name
    name = getattr(user, "username", None)
    return name if isinstance(name, str) and name else str(user)
