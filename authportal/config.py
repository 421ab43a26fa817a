"""Environment readers for settings.py that fail loudly, naming the variable at fault."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from core.conf import BoolSetting, ChoiceSetting, IntSetting, ListSetting, PathSetting, TextSetting

env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def read_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of true/false/1/0/yes/no/on/off, got {raw!r}")


def read_int(name: str, default: int, *, minimum: int = 1, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ImproperlyConfigured(f"{name} must be {bounds}, got {value}")
    return value


def read_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def read_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


# Each AUTHPORTAL_* variable from the environment, with its default and bounds from core/conf.py.
def setting_int(spec: IntSetting) -> int:
    return read_int(spec.env, spec.default, minimum=spec.minimum, maximum=spec.maximum)


def setting_bool(spec: BoolSetting, default: bool | None = None) -> bool:
    """`default` replaces the written one where it follows another setting (HTTPS follows the issuer)."""
    return read_bool(spec.env, spec.default if default is None else default)


def setting_choice(spec: ChoiceSetting) -> str:
    return read_choice(spec.env, spec.default, spec.choices)


def setting_list(spec: ListSetting) -> list[str]:
    return read_list(spec.env, list(spec.default))


def setting_text(spec: TextSetting | PathSetting) -> str | None:
    """The variable's text, or None when it is unset or blank."""
    return os.environ.get(spec.env, "").strip() or None


def read_networks(name: str) -> list[str]:
    """A comma-separated list of IP addresses or networks (CIDR), each checked."""
    import ipaddress

    values = read_list(name, [])
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must list IP addresses or networks, got {value!r}") from None
    return values


def _url_split(name: str, value: str) -> SplitResult:
    # urlsplit raises ValueError on an unbalanced or non-IP bracketed host and on a host that
    # NFKC-normalizes into a delimiter; `.port` on a port that is no number below 65536.
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not a URL ({exc}): {value!r}") from None
    return parts


def read_issuer(name: str, default: str) -> str:
    """The issuer URL exactly as it will appear in `iss` and in the metadata (RFC 8414 §2)."""
    value = os.environ.get(name, default).strip()
    parts = _url_split(name, value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ImproperlyConfigured(f"{name} must be an absolute http(s) URL, got {value!r}")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ImproperlyConfigured(f"{name} must not have a query or fragment (RFC 8414 §2), got {value!r}")
    if value.endswith("/"):
        raise ImproperlyConfigured(f"{name} must not end with '/', got {value!r}")
    return value


def default_issuer() -> str:
    """Where `make run` serves (granian on HOST:PORT), for a laptop that sets no AUTHPORTAL_ISSUER."""
    host = os.environ.get("HOST", "").strip()
    if host in ("", "0.0.0.0", "::", "[::]"):  # noqa: S104 (every interface: this machine is localhost)
        host = "localhost"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{read_int('PORT', 8000, minimum=1, maximum=65535)}"


def read_url(name: str, default: str | None, *, schemes: tuple[str, ...]) -> str | None:
    value = os.environ.get(name, default or "").strip()
    if not value:
        return None
    if _url_split(name, value).scheme not in schemes:
        raise ImproperlyConfigured(f"{name} must be a URL with scheme {' or '.join(schemes)}, got {value!r}")
    return value


def read_database(name: str, default: str) -> dict[str, Any]:
    value = os.environ.get(name, default).strip()
    scheme = _url_split(name, value).scheme
    if scheme not in environ.Env.DB_SCHEMES:
        raise ImproperlyConfigured(
            f"{name} must be a database URL such as postgres://user@host:5432/name or sqlite:////path/db.sqlite3; "
            f"{scheme or 'no'} scheme is not supported"
        )
    try:
        config = env.db_url_config(value)
    except (ImproperlyConfigured, ValueError, KeyError) as exc:
        raise ImproperlyConfigured(
            f"{name} is not a database URL Django can use ({exc}): {value!r}"
        ) from None
    if not config.get("ENGINE"):
        raise ImproperlyConfigured(f"{name} has an unsupported scheme: {value!r}")
    return dict(config)


def read_optional_secret(name: str) -> str | None:
    """A secret from NAME or from the file named by NAME_FILE; None when neither is set."""
    if value := os.environ.get(name, "").strip():
        return value
    if file_name := os.environ.get(f"{name}_FILE", "").strip():
        try:
            value = Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE names {file_name!r}, which cannot be read: {exc}"
            ) from None
        if not value:
            raise ImproperlyConfigured(f"{name}_FILE names {file_name!r}, which is empty")
        return value
    return None


def read_secret(name: str, *, data_dir: Path, filename: str, generate: Callable[[], str]) -> str:
    """A secret from NAME, from the file named by NAME_FILE, or generated once into the data directory."""
    if value := read_optional_secret(name):
        return value
    path = data_dir / filename
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(generate() + "\n")
        # link() refuses to overwrite, so when two processes start at once the first one's secret wins.
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()
