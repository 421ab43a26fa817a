"""The audit event catalogue: every event name we write, what its outcome means and what `details` holds.

Names are stable and dotted (`<noun>.<past participle>`); auditors filter and script on them, so a
name never changes meaning and is never reused. The catalogue itself is audit/events.toml; the README's table is generated from it
(`python -c "from audit.catalogue import catalogue_markdown; print(catalogue_markdown())"`).
No event's details ever hold a secret, a token or a private key: `audit_record` refuses the usual
key names, and the tests check the token endpoint's rows against the real secret and token.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EventSpec:
    name: str
    outcome: str  # "success", "failure", or "either"
    actor: str
    subject: str
    details: str
    description: str


# The table itself is data: audit/events.toml, one [[event]] each.
EVENTS: tuple[EventSpec, ...] = tuple(
    EventSpec(**event)
    for event in tomllib.loads((Path(__file__).parent / "events.toml").read_text())["event"]
)

EVENT_NAMES: frozenset[str] = frozenset(spec.name for spec in EVENTS)


def event_names_expand(patterns: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Event names for filter patterns: exact names, or `client.*` (or `client.`) for every `client.` event.

    Unknown exact names are kept (events of a later version, or a typo that then matches nothing).
    """
    names: list[str] = []
    for pattern in patterns:
        if pattern.endswith((".*", ".")):
            prefix = pattern.rstrip("*")
            names.extend(spec.name for spec in EVENTS if spec.name.startswith(prefix))
        else:
            names.append(pattern)
    return tuple(dict.fromkeys(names))


def catalogue_markdown() -> str:
    lines = ["| event | outcome | actor | subject | details |", "|---|---|---|---|---|"]
    for spec in EVENTS:
        lines.append(f"| `{spec.name}` | {spec.outcome} | {spec.actor} | `{spec.subject}` | {spec.details} |")
    return "\n".join(lines)
