"""Links from an audit event's subject (client:…, service:…, key:…) to its page."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from django import template
from django.urls import reverse

register = template.Library()


@register.filter
def subject_url(subject: str) -> str | None:
    kind, _, ident = (subject or "").partition(":")
    if not ident:
        return None
    if kind == "client":
        return reverse("portal:client_list") + "?q=" + quote(ident)
    if kind == "service":
        return reverse("portal:service_list") + "?q=" + quote(ident)
    if kind == "key":
        return reverse("portal:key_list")
    if kind == "scope":
        return reverse("portal:service_list")
    return None


# What a reader looks for first in an event's details; long ids (jti, kid) come after, folded.
BRIEF_KEYS = (
    "client",
    "name",
    "username",
    "service",
    "scope",
    "scopes",
    "audiences",
    "error",
    "reason",
    "format",
)
# Details holding a Unix time (a JWT's `exp`), shown as a UTC time.
UNIX_TIME_KEYS = frozenset({"exp", "iat", "nbf"})


@register.filter
def details_items(details: dict) -> list[tuple[str, str]]:
    """`(key, text)` pairs, the telling keys first: lists joined by spaces, Unix times as UTC times."""
    if not isinstance(details, dict):
        return [("", str(details))]
    keys = [key for key in BRIEF_KEYS if key in details]
    keys += [key for key in details if key not in keys]
    return [(key, _text(key, details[key])) for key in keys]


def _text(key: str, value: object) -> str:
    if key in UNIX_TIME_KEYS and isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


@register.filter
def details_summary(details: dict) -> str:
    """`key: value · key: a b` — every detail on one line."""
    return " · ".join(f"{key}: {text}" if key else text for key, text in details_items(details))


@register.filter
def details_brief(details: dict) -> str:
    """The first telling details, for a folded row's summary line."""
    items = details_items(details)
    brief = [(key, text) for key, text in items if key in BRIEF_KEYS][:3] or items[:1]
    line = " · ".join(f"{key}: {text}" if key else text for key, text in brief)
    return line if len(line) <= 90 else line[:89] + "…"
