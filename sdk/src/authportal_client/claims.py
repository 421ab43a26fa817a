"""The verified content of an access token."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


class Claims:
    """What a service decides with: who calls (`client_id`) and what it may do (`scopes`)."""

    __slots__ = ("raw", "client_id", "scopes", "audience")

    def __init__(
        self, raw: Mapping[str, Any], *, client_id: str, scopes: frozenset[str], audience: tuple[str, ...]
    ):
        self.raw = raw
        self.client_id = client_id
        self.scopes = scopes
        self.audience = audience

    @property
    def subject(self) -> str:
        """On whose behalf the call is made: the original caller, kept across every exchange."""
        return self.raw.get("sub", self.client_id)

    @property
    def actor_chain(self) -> tuple[str, ...]:
        """The client ids that acted for the subject (RFC 8693 `act`), nearest first; () for a direct call.

        The nearest actor is the caller itself (`client_id`) when the token was exchanged.
        """
        chain: list[str] = []
        act = self.raw.get("act")
        while isinstance(act, Mapping):
            chain.append(act["sub"])
            act = act.get("act")
        return tuple(chain)

    @property
    def txn(self) -> str | None:
        """The transaction id (RFC 8417 `txn`) shared by every hop of one delegated request."""
        return self.raw.get("txn")

    @property
    def issuer(self) -> str:
        return self.raw["iss"]

    @property
    def token_id(self) -> str | None:
        return self.raw.get("jti")

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.raw["exp"], UTC)

    @property
    def issued_at(self) -> datetime:
        return datetime.fromtimestamp(self.raw["iat"], UTC)

    def has_scope(self, name: str) -> bool:
        return name in self.scopes

    def has_scopes(self, *names: str) -> bool:
        return all(name in self.scopes for name in names)

    def __getitem__(self, name: str) -> Any:
        return self.raw[name]

    def __repr__(self) -> str:
        scopes = sorted(self.scopes)
        return f"Claims(client_id={self.client_id!r}, scopes={scopes!r}, audience={self.audience!r})"
