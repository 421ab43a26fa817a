"""Every AUTHPORTAL_* setting, written once: its default, its bounds and what it means.

Code reads a setting through `app_settings` (as django-oauth-toolkit's code reads `oauth2_settings`):

    from core.conf import app_settings
    app_settings.JWKS_MAX_AGE

The first read looks the value up in `django.conf.settings` (the default here applies when the
settings module does not define it) and keeps it, so later reads cost a plain attribute read, less
than reading Django's settings (bench/settings_read); an override (pytest-django's `settings`
fixture, `override_settings`) sends `setting_changed`, which forgets the kept values, as
django-oauth-toolkit's `oauth2_settings` does. authportal/settings.py reads the environment with the readers in
authportal/config.py, taking each variable's default and bounds from here (`read_setting`); the
checks in core/checks.py hold whatever is configured to the same bounds and relations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar, overload

from django.conf import settings as django_settings
from django.core.signals import setting_changed

T = TypeVar("T")


class Setting(Generic[T]):
    """One setting: the environment variable it comes from and the Django setting that holds it."""

    def __init__(
        self, default: T, meaning: str, *, setting: str = "", env: str = "", check_id: str = ""
    ) -> None:
        self.default = default
        self.meaning = meaning
        self._setting = setting
        self._env = env
        # The system check's id when the value is out of bounds (audit's keep their historical id).
        self.check_id = check_id or "core.E001"
        self.attribute = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.attribute = name
        self.setting = self._setting or f"AUTHPORTAL_{name}"
        self.env = self._env or f"AUTHPORTAL_{name}"

    @overload
    def __get__(self, instance: None, owner: type) -> Self: ...
    @overload
    def __get__(self, instance: AppSettings, owner: type) -> T: ...
    def __get__(self, instance: AppSettings | None, owner: type) -> Self | T:
        if instance is None:
            return self
        value: T = getattr(django_settings, self.setting, self.default)
        # Kept on the instance, which Python reads before this (non-data) descriptor: the next read
        # is a plain attribute. An override empties it (`_settings_changed` below).
        instance.__dict__[self.attribute] = value
        return value

    def problem(self, value: object) -> str | None:
        """What is wrong with `value` for this setting, or None."""
        return None


class IntSetting(Setting[int]):
    def __init__(
        self,
        default: int,
        meaning: str,
        *,
        minimum: int,
        maximum: int | None = None,
        setting: str = "",
        env: str = "",
        check_id: str = "",
    ) -> None:
        super().__init__(default, meaning, setting=setting, env=env, check_id=check_id)
        self.minimum = minimum
        self.maximum = maximum

    def bounds(self) -> str:
        if self.maximum is None:
            return f"at least {self.minimum}"
        return f"between {self.minimum} and {self.maximum}"

    def problem(self, value: object) -> str | None:
        if type(value) is not int:
            return f"{self.env} must be an integer, got {value!r}"
        if value < self.minimum or (self.maximum is not None and value > self.maximum):
            return f"{self.env} must be {self.bounds()}, got {value}"
        return None


class BoolSetting(Setting[bool]):
    def problem(self, value: object) -> str | None:
        return None if type(value) is bool else f"{self.env} must be true or false, got {value!r}"


class ChoiceSetting(Setting[str]):
    def __init__(self, default: str, meaning: str, *, choices: tuple[str, ...]) -> None:
        super().__init__(default, meaning)
        self.choices = choices

    def problem(self, value: object) -> str | None:
        if value not in self.choices:
            return f"{self.env} must be one of {', '.join(self.choices)}, got {value!r}"
        return None


class ListSetting(Setting[list[str]]):
    """A comma-separated list in the environment."""

    def problem(self, value: object) -> str | None:
        if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
            return f"{self.env} must be a list of strings, got {value!r}"
        return None


class TextSetting(Setting[str]):
    """Free text: a URL (read by authportal/config.py's own reader), a secret, a header name."""

    def problem(self, value: object) -> str | None:
        return None if isinstance(value, str) else f"{self.env} must be a string, got {value!r}"


class PathSetting(Setting[str | None]):
    """A file to keep up to date, or None."""

    def problem(self, value: object) -> str | None:
        if value is None or (isinstance(value, str) and value):
            return None
        return f"{self.env} must be a path or unset, got {value!r}"


@dataclass(frozen=True)
class NotAbove:
    """`lower` must not exceed `upper` (both integer settings)."""

    lower: IntSetting
    upper: IntSetting
    check_id: str
    message: str

    def problem(self, lower: object, upper: object) -> str | None:
        if type(lower) is int and type(upper) is int and lower > upper:
            return self.message.format(lower=lower, upper=upper)
        return None


class AppSettings:
    """The settings of AuthPortal's apps, each looked up in Django's settings when read."""

    # --- the authorization server
    ISSUER = TextSetting(
        "http://localhost:8000",
        "the issuer URL, exactly as in `iss`; unset, http://HOST:PORT where `make run` serves",
    )
    KEK = TextSetting("", "key-encryption key for signing keys at rest (generated into the data directory)")
    KEK_PREVIOUS = ListSetting([], "old KEK(s), comma-separated, while `rotate_kek` runs")
    SIGNING_ALG = ChoiceSetting(
        "RS256", "algorithm of new signing keys", choices=("RS256", "PS256", "ES256", "EdDSA")
    )
    JWKS_MAX_AGE = IntSetting(
        300, "seconds verifiers may cache the JWKS and the metadata", minimum=0, maximum=86400
    )
    TOKEN_LIFETIME_DEFAULT = IntSetting(600, "seconds, for new clients", minimum=60, maximum=3600)
    TOKEN_LIFETIME_MAX = IntSetting(3600, "seconds; no client may exceed it", minimum=60, maximum=3600)
    TOKEN_REQUEST_MAX_BYTES = IntSetting(
        4096, "the token endpoint refuses larger bodies with 413", minimum=256, maximum=65536
    )
    # --- the signing-key lifecycle (keys/services.py; its timing rules in keys/checks.py)
    KEY_ROTATION_DAYS = IntSetting(30, "days each key signs", minimum=1, maximum=3650)
    KEY_PREPUBLISH_SECONDS = IntSetting(86400, "seconds a key is published before it signs", minimum=0)
    KEY_RETIRED_KEEP_SECONDS = IntSetting(86400, "seconds a retired key stays published", minimum=0)
    KEY_MARGIN_SECONDS = IntSetting(60, "clock skew and publication delay", minimum=0)
    JWKS_FILE = PathSetting(None, "a file kept holding the JWKS")
    PUBLIC_KEY_FILE = PathSetting(None, "a file kept holding the active public key in PEM")
    # --- the audit log (audit/)
    AUDIT_RETENTION_DAYS = IntSetting(
        400, "events older than this are purged", minimum=1, maximum=36500, check_id="audit.E001"
    )
    AUDIT_SEAL_MAX_EVENTS = IntSetting(
        100_000, "most events in one checkpoint", minimum=1000, maximum=1_000_000, check_id="audit.E001"
    )
    AUDIT_GAP_SECONDS = IntSetting(
        3600,
        "how long an id missing at seal time may still be sealed late",
        minimum=60,
        check_id="audit.E001",
    )
    AUDIT_PREPARED_INSERT = BoolSetting(
        True,
        "the token's audit INSERT is a server-side prepared statement; off behind a transaction-pooling "
        "PgBouncer older than 1.21",
    )
    AUDIT_WRITE_TIMEOUT_SECONDS = IntSetting(
        10, "a token request waits this long for its row's commit, then answers 503", minimum=1, maximum=300
    )
    # --- deadlines and the server (authportal/deadlines.py, authportal/rsgi.py)
    DB_TIMEOUT_PROTOCOL_MS = IntSetting(
        1000, "how long a protocol request may wait for the database in all", minimum=100, maximum=60000
    )
    DB_TIMEOUT_PORTAL_SECONDS = IntSetting(
        10, "how long any one wait of a portal page for the database may last", minimum=1, maximum=300
    )
    THREADS = IntSetting(4, "threads running Django in each server process", minimum=1, maximum=256)
    REQUEST_BODY_TIMEOUT_SECONDS = IntSetting(
        10, "a body not arrived in full after this long is answered 408", minimum=1, maximum=30
    )
    # --- the portal's sign-in (django-axes with portal/lockouts.py's rules; Django's session)
    LOGIN_FAILURE_LIMIT = IntSetting(
        5,
        "failed sign-ins that lock a username at the address they came from",
        minimum=1,
        maximum=100,
        setting="AXES_FAILURE_LIMIT",
    )
    LOGIN_USERNAME_FAILURE_LIMIT = IntSetting(
        20, "failed sign-ins, from any addresses, that lock a username everywhere", minimum=1, maximum=1000
    )
    LOGIN_COOLOFF_MINUTES = IntSetting(15, "how long a lock lasts after the last failure", minimum=1)
    SESSION_IDLE_MINUTES = IntSetting(
        30, "a portal session ends after this long idle", minimum=1, maximum=1440
    )
    # --- transport security: on with an https issuer
    HTTPS = BoolSetting(False, "secure cookies, HSTS and the HTTPS redirect (default: the issuer is https)")
    SSL_REDIRECT = BoolSetting(True, "redirect http to https (with HTTPS)")
    HSTS_SECONDS = IntSetting(31536000, "Strict-Transport-Security max-age (with HTTPS)", minimum=0)
    HSTS_PRELOAD = BoolSetting(True, "HSTS preload (with HTTPS)")
    PROXY_SSL_HEADER = TextSetting(
        "", "e.g. HTTP_X_FORWARDED_PROTO, only behind a proxy you run that sets it"
    )

    # --- private_key_jwt (oauth/client_assertions.py)
    CLIENT_ASSERTION_MAX_LIFETIME = IntSetting(
        3600, "how far ahead a client assertion's exp may be, in seconds", minimum=10, maximum=3600
    )
    CLIENT_ASSERTION_TOKEN_ENDPOINT_AUDIENCE = BoolSetting(
        True, "accept the token endpoint's URL as a client assertion's aud beside the issuer identifier"
    )
    # --- revocation (revocation/)
    REVOCATION_LIST_MAX_AGE = IntSetting(
        60,
        "the signed revocation list's max-age: how long a revocation may take to reach a verifier",
        minimum=0,
        maximum=3600,
    )
    # --- the admin API (api/)
    API_RATE_PER_MINUTE = IntSetting(
        600, "requests a minute per caller before the API answers 429", minimum=1, maximum=100_000
    )
    # --- limits at the token endpoint (throttling/): over a limit, 429 before any database work
    THROTTLE = BoolSetting(True, "limits at /o/token on or off")
    THROTTLE_WINDOW_SECONDS = IntSetting(60, "the limits' window", minimum=1, maximum=3600)
    THROTTLE_CLIENT_FAILURES = IntSetting(
        20, "failed authentications per presented client id in a window", minimum=1
    )
    THROTTLE_ADDRESS_FAILURES = IntSetting(100, "failed authentications per address in a window", minimum=1)
    TRUSTED_PROXIES = ListSetting(
        [], "proxies (addresses or CIDR networks) whose X-Forwarded-For names the client's address"
    )
    # --- operation (monitoring/)
    READY_SEAL_MAX_LAG_SECONDS = IntSetting(
        600, "/readyz is unready when an event has waited longer for its seal", minimum=60, maximum=86400
    )
    METRICS_TOKEN = TextSetting("", "the bearer token a scraper of /metrics sends (or METRICS_TOKEN_FILE)")
    METRICS_ALLOW = ListSetting([], "addresses or CIDR networks allowed to read /metrics without the token")
    LOG_FORMAT = ChoiceSetting("plain", "plain text or JSON lines", choices=("plain", "json"))

    # Relations between settings: refused at start-up and by `manage.py check`.
    RELATIONS = (
        NotAbove(
            TOKEN_LIFETIME_DEFAULT,
            TOKEN_LIFETIME_MAX,
            "core.E002",
            "AUTHPORTAL_TOKEN_LIFETIME_DEFAULT must not exceed AUTHPORTAL_TOKEN_LIFETIME_MAX ({lower} > {upper})",
        ),
        NotAbove(
            LOGIN_FAILURE_LIMIT,
            LOGIN_USERNAME_FAILURE_LIMIT,
            "core.E003",
            "AUTHPORTAL_LOGIN_USERNAME_FAILURE_LIMIT must be at least AUTHPORTAL_LOGIN_FAILURE_LIMIT "
            "({upper} < {lower})",
        ),
    )

    @classmethod
    def specs(cls) -> list[Setting[Any]]:
        return [value for value in vars(cls).values() if isinstance(value, Setting)]


app_settings = AppSettings()


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    app_settings.__dict__.clear()


setting_changed.connect(_settings_changed, dispatch_uid="core.conf.settings_changed")
