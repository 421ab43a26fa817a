"""Links from an audit event's subject (client:…, service:…, key:…) to its page."""

from __future__ import annotations

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


@register.filter
def details_summary(details: dict) -> str:
    """`key: value · key: a b` — readable in a table cell, lists joined by spaces."""
    if not isinstance(details, dict):
        return str(details)
    parts = []
    for key, value in details.items():
        if isinstance(value, list):
            value = " ".join(str(item) for item in value)
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        parts.append(f"{key}: {value}")
    return " · ".join(parts)
