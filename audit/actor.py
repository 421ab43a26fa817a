"""Who made a change, as the audit log names them.

Every service that changes state takes an `Actor` and passes it to `audit_record`, so a change row
names its author and, when the change came through a request, that request's id and address.
"""

from __future__ import annotations

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
