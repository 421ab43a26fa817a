"""How the story's services print a verified token: one claim a line, client ids with their names."""

from __future__ import annotations

from authportal_client import Claims


def named(client_id: str, names: dict[str, str]) -> str:
    name = names.get(client_id)
    return f"{name} ({client_id[:8]}…)" if name else client_id


def claims_lines(claims: Claims, names: dict[str, str]) -> list[str]:
    """The claims a service decides with, in the order a reader asks about them."""
    chain = claims.actor_chain
    return [
        f"  sub       {named(claims.subject, names)}   on whose behalf",
        f"  act       {' → '.join(named(a, names) for a in chain) if chain else '— (a direct call)'}"
        + ("   who acted, nearest first" if chain else ""),
        f"  client_id {named(claims.client_id, names)}   who sent it",
        f"  aud       {' '.join(claims.audience)}",
        f"  scope     {' '.join(sorted(claims.scopes))}",
        f"  txn       {claims.txn or '—'}",
        f"  expires   {claims.expires_at:%H:%M:%S} UTC",
    ]
