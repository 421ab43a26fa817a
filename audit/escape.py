"""The one way hostile text is stored in the audit log: every NUL (U+0000) as ␀ (U+2400).

PostgreSQL's text and jsonb cannot hold a NUL, and a row must never be refused or cut short because
of what a caller typed: every answer has its row. So each NUL in an event's text columns, and in the
strings of its details (keys and values, at any depth), is stored as U+2400 SYMBOL FOR NULL, which
reads as a NUL in the portal and in every export and is ordinary text to the hash chain. Text
without a NUL is stored exactly as given: the six characters `\\u0000` stay six characters. (A ␀
typed as such reads the same as an escaped NUL; neither can be a client id, a scope or a username.)

Both write paths call this, on every backend: `audit.recording.audit_record_start` for the text
columns and the ORM's details (`details_nul_escaped`), and the token endpoint's in-flight INSERT for
the details it serializes itself (`details_json`). The common case, no NUL, costs a substring
search per text.
"""

from __future__ import annotations

import json
from typing import Any

NUL = "\x00"
NUL_STORED_AS = "\u2400"
# How json.dumps writes a NUL. A literal backslash followed by u0000 is written `\\u0000`, which
# contains it too, so finding it only says the values must be looked at.
_NUL_IN_JSON = "\\u0000"


def text_nul_escaped(text: str) -> str:
    return text.replace(NUL, NUL_STORED_AS) if NUL in text else text


def details_nul_escaped(value: Any) -> Any:
    """`value` (an event's details, or any part of them) with every NUL in its strings escaped."""
    if isinstance(value, str):
        return text_nul_escaped(value)
    if isinstance(value, dict):
        return {
            text_nul_escaped(k) if isinstance(k, str) else k: details_nul_escaped(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [details_nul_escaped(item) for item in value]
    return value


def details_json(details: dict[str, Any]) -> str:
    """The JSON text of an event's details as stored, with every NUL escaped.

    json.dumps writes a NUL as `\\u0000`, so JSON without that sequence holds none: the token's row
    pays one substring search on the text it serializes anyway.
    """
    text = json.dumps(details)
    if _NUL_IN_JSON not in text:
        return text
    return json.dumps(details_nul_escaped(details))
