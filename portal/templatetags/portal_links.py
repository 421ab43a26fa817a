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
