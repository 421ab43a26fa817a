from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

SERVICE_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{1,62}$")
# Services and clients alike: a name reads well in a log, a URL and a table, and needs no escaping.
NAME_RULES = "2–63 lowercase letters, digits, _ or -, starting with a letter"
# RFC 6749 §3.3 allows more; we keep to characters that read well in a log and need no escaping.
SCOPE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$")
_URI_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")


def validate_service_name(value: str) -> None:
    if not SERVICE_NAME_RE.match(value):
        raise ValidationError(
            "%(value)r is not a service name: use %(rules)s.", params={"value": value, "rules": NAME_RULES}
        )


def validate_client_name(value: str) -> None:
    """A client is usually named after the service that calls with it, so the same rules apply."""
    if not SERVICE_NAME_RE.match(value):
        raise ValidationError(
            "%(value)r is not a client name: use %(rules)s.", params={"value": value, "rules": NAME_RULES}
        )


def validate_scope_name(value: str) -> None:
    if not SCOPE_NAME_RE.match(value):
        raise ValidationError(
            "%(value)r is not a scope name: use letters, digits and . _ : / -, such as 'doctors:read'.",
            params={"value": value},
        )


def scope_names_parse(text: str) -> list[str]:
    """Scope names as a person types them: separated by spaces, tabs or commas, each one validated.

    The one rule for every form and command that takes several scopes in one field.
    """
    names = [name for name in re.split(r"[\s,]+", text) if name]
    for name in names:
        validate_scope_name(name)
    return names


def is_absolute_uri_without_fragment(value: str) -> bool:
    """RFC 8707 §2: a resource is an absolute URI and must not have a fragment.

    Whatever the text, the answer is True or False: `/o/token`, the portal and the commands all ask
    this of input nobody vetted.
    """
    if not value or any(ch.isspace() for ch in value) or "#" in value:
        return False
    try:
        parts = urlsplit(value)
        # urlsplit raises ValueError for an unbalanced or non-IP bracketed host ("https://[::1") and
        # for a host that NFKC-normalizes into a delimiter ("https://a\uff03b"); `.port` for a port
        # that is not a number below 65536.
        parts.port  # noqa: B018
    except ValueError:
        return False
    if not parts.scheme or not _URI_SCHEME_RE.match(parts.scheme):
        return False
    if parts.scheme in ("http", "https"):
        return bool(parts.hostname)
    return bool(parts.path)


def validate_audience(value: str) -> None:
    if not is_absolute_uri_without_fragment(value):
        raise ValidationError(
            "%(value)r is not an audience: use an absolute URI without a fragment, such as "
            "'https://doctors.internal' (RFC 8707).",
            params={"value": value},
        )
