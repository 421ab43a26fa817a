"""AuthPortal settings: everything comes from the environment (see README, "Configuration")."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from authportal.config import (
    default_issuer,
    read_bool,
    read_choice,
    read_database,
    read_int,
    read_issuer,
    read_list,
    read_secret,
    read_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("AUTHPORTAL_DATA_DIR", BASE_DIR / "var")).resolve()

DEBUG = read_bool("DEBUG", False)
SECRET_KEY = read_secret(
    "SECRET_KEY", data_dir=DATA_DIR, filename="secret_key", generate=lambda: secrets.token_urlsafe(50)
)

# --- the authorization server -------------------------------------------------------------------
# Unset, it follows HOST and PORT, where `make run` serves: http://localhost:8000 by default.
AUTHPORTAL_ISSUER = read_issuer("AUTHPORTAL_ISSUER", default_issuer())
AUTHPORTAL_KEK = read_secret(
    "AUTHPORTAL_KEK",
    data_dir=DATA_DIR,
    filename="kek",
    generate=lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
)
AUTHPORTAL_SIGNING_ALG = read_choice("AUTHPORTAL_SIGNING_ALG", "RS256", ("RS256", "PS256", "ES256", "EdDSA"))
AUTHPORTAL_JWKS_MAX_AGE = read_int("AUTHPORTAL_JWKS_MAX_AGE", 300, minimum=0, maximum=86400)
AUTHPORTAL_TOKEN_LIFETIME_DEFAULT = read_int(
    "AUTHPORTAL_TOKEN_LIFETIME_DEFAULT", 600, minimum=60, maximum=3600
)
AUTHPORTAL_TOKEN_LIFETIME_MAX = read_int("AUTHPORTAL_TOKEN_LIFETIME_MAX", 3600, minimum=60, maximum=3600)
if AUTHPORTAL_TOKEN_LIFETIME_DEFAULT > AUTHPORTAL_TOKEN_LIFETIME_MAX:
    raise ImproperlyConfigured(
        "AUTHPORTAL_TOKEN_LIFETIME_DEFAULT must not exceed AUTHPORTAL_TOKEN_LIFETIME_MAX "
        f"({AUTHPORTAL_TOKEN_LIFETIME_DEFAULT} > {AUTHPORTAL_TOKEN_LIFETIME_MAX})"
    )
# Signing-key lifecycle (keys/services.py; checked at start-up by keys/checks.py).
AUTHPORTAL_KEY_ROTATION_DAYS = read_int("AUTHPORTAL_KEY_ROTATION_DAYS", 30, minimum=1, maximum=3650)
AUTHPORTAL_KEY_PREPUBLISH_SECONDS = read_int("AUTHPORTAL_KEY_PREPUBLISH_SECONDS", 86400, minimum=0)
AUTHPORTAL_KEY_RETIRED_KEEP_SECONDS = read_int("AUTHPORTAL_KEY_RETIRED_KEEP_SECONDS", 86400, minimum=0)
AUTHPORTAL_KEY_MARGIN_SECONDS = read_int("AUTHPORTAL_KEY_MARGIN_SECONDS", 60, minimum=0)
AUTHPORTAL_KEK_PREVIOUS = read_list("AUTHPORTAL_KEK_PREVIOUS", [])
AUTHPORTAL_JWKS_FILE = os.environ.get("AUTHPORTAL_JWKS_FILE", "").strip() or None
AUTHPORTAL_PUBLIC_KEY_FILE = os.environ.get("AUTHPORTAL_PUBLIC_KEY_FILE", "").strip() or None
# Audit log (audit/): retention, checkpoint size, and how long an in-flight event may still be sealed.
AUTHPORTAL_AUDIT_RETENTION_DAYS = read_int("AUTHPORTAL_AUDIT_RETENTION_DAYS", 400, minimum=1, maximum=36500)
AUTHPORTAL_AUDIT_SEAL_MAX_EVENTS = read_int(
    "AUTHPORTAL_AUDIT_SEAL_MAX_EVENTS", 100_000, minimum=1000, maximum=1_000_000
)
AUTHPORTAL_AUDIT_GAP_SECONDS = read_int("AUTHPORTAL_AUDIT_GAP_SECONDS", 3600, minimum=60)
# The token's audit INSERT is a server-side prepared statement (audit/inflight.py). Turn it off behind
# a transaction-pooling PgBouncer older than 1.21, which cannot carry prepared statements.
AUTHPORTAL_AUDIT_PREPARED_INSERT = read_bool("AUTHPORTAL_AUDIT_PREPARED_INSERT", True)
# A token request whose audit row is not committed within this many seconds gets 503 and no token.
AUTHPORTAL_AUDIT_WRITE_TIMEOUT_SECONDS = read_int(
    "AUTHPORTAL_AUDIT_WRITE_TIMEOUT_SECONDS", 10, minimum=1, maximum=300
)
# How long a protocol request may wait for the database in all (connecting and every round trip)
# before it gives up, answering 503 `temporarily_unavailable`; and how long any one wait of a portal
# page may last. Commands and Celery tasks wait as long as it takes (authportal/deadlines.py).
AUTHPORTAL_DB_TIMEOUT_PROTOCOL_MS = read_int(
    "AUTHPORTAL_DB_TIMEOUT_PROTOCOL_MS", 1000, minimum=100, maximum=60000
)
AUTHPORTAL_DB_TIMEOUT_PORTAL_SECONDS = read_int(
    "AUTHPORTAL_DB_TIMEOUT_PORTAL_SECONDS", 10, minimum=1, maximum=300
)
# The server (authportal/rsgi.py): threads per worker process that run Django, and how long a request's
# body may take to arrive before it is answered 408 and its connection closed.
AUTHPORTAL_THREADS = read_int("AUTHPORTAL_THREADS", 4, minimum=1, maximum=256)
AUTHPORTAL_REQUEST_BODY_TIMEOUT_SECONDS = read_int(
    "AUTHPORTAL_REQUEST_BODY_TIMEOUT_SECONDS", 10, minimum=1, maximum=30
)
AUTHPORTAL_TOKEN_REQUEST_MAX_BYTES = read_int(
    "AUTHPORTAL_TOKEN_REQUEST_MAX_BYTES", 4096, minimum=256, maximum=65536
)
# private_key_jwt (oauth/client_assertions.py): how far ahead an assertion's exp may be, and whether the
# token endpoint's URL is accepted as its aud beside the issuer identifier (RFC 7523's older reading).
AUTHPORTAL_CLIENT_ASSERTION_MAX_LIFETIME = read_int(
    "AUTHPORTAL_CLIENT_ASSERTION_MAX_LIFETIME", 3600, minimum=10, maximum=3600
)
AUTHPORTAL_CLIENT_ASSERTION_TOKEN_ENDPOINT_AUDIENCE = read_bool(
    "AUTHPORTAL_CLIENT_ASSERTION_TOKEN_ENDPOINT_AUDIENCE", True
)
# The signed revocation list's Cache-Control max-age (revocation/): how long a revocation may take to
# reach a verifier that caches it (introspection honours it at once).
AUTHPORTAL_REVOCATION_LIST_MAX_AGE = read_int(
    "AUTHPORTAL_REVOCATION_LIST_MAX_AGE", 60, minimum=0, maximum=3600
)

# --- Django -------------------------------------------------------------------------------------
_issuer_host = urlsplit(AUTHPORTAL_ISSUER).hostname or "localhost"
ALLOWED_HOSTS = read_list("ALLOWED_HOSTS", sorted({_issuer_host, "localhost", "127.0.0.1", "[::1]"}))
HTTPS = read_bool("AUTHPORTAL_HTTPS", AUTHPORTAL_ISSUER.startswith("https://"))

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "oauth2_provider",
    "rest_framework",
    "django_celery_beat",
    "axes",
    "csp",
    "audit",
    "clients",
    "keys",
    "revocation",
    "oauth",
    "portal",
]

MIDDLEWARE = [
    "authportal.middleware.request_id_middleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.middleware.PortalCSPMiddleware",
    "portal.middleware.no_store_for_signed_in_pages",
    # Last, as django-axes asks: it turns a locked-out login into our lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "authportal.urls"
WSGI_APPLICATION = "authportal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.portal_role",
            ],
        },
    },
]

DATABASES = {"default": read_database("DATABASE_URL", f"sqlite:///{DATA_DIR / 'authportal.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", read_int("DATABASE_CONN_MAX_AGE", 300, minimum=0))
# No health check before each request's first query: it is one more round trip on every token
# request. A connection that died is closed at the end of the request that found it (answered 503).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # WAL lets the portal read while a token request writes its audit row.
    DATABASES["default"].setdefault("OPTIONS", {})["init_command"] = (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
    )
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    # A file, not memory, so that a Celery worker started by the tests sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with a deadline on every wait for the server (authportal/postgres/base.py).
    DATABASES["default"]["ENGINE"] = "authportal.postgres"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = read_url("REDIS_URL", None, schemes=("redis", "rediss", "unix"))
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "clients.hashers.ClientSecretHasher",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if DEBUG:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

# --- the portal: sign-in, roles, lockout ---------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:dashboard"
# Idle timeout: the session lives this long after the last request.
SESSION_COOKIE_AGE = read_int("AUTHPORTAL_SESSION_IDLE_MINUTES", 30, minimum=1, maximum=1440) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# django-axes, with the rules of portal/lockouts.py: a username is locked at one address after
# AUTHPORTAL_LOGIN_FAILURE_LIMIT failures there (never anybody else at that address), and at every
# address after AUTHPORTAL_LOGIN_USERNAME_FAILURE_LIMIT failures in all; for the cool-off after the
# last failure. A refused sign-in neither counts as a failure nor extends the lock.
AXES_FAILURE_LIMIT = read_int("AUTHPORTAL_LOGIN_FAILURE_LIMIT", 5, minimum=1, maximum=100)
AUTHPORTAL_LOGIN_USERNAME_FAILURE_LIMIT = read_int(
    "AUTHPORTAL_LOGIN_USERNAME_FAILURE_LIMIT", 20, minimum=1, maximum=1000
)
if AUTHPORTAL_LOGIN_USERNAME_FAILURE_LIMIT < AXES_FAILURE_LIMIT:
    raise ImproperlyConfigured(
        "AUTHPORTAL_LOGIN_USERNAME_FAILURE_LIMIT must be at least AUTHPORTAL_LOGIN_FAILURE_LIMIT "
        f"({AUTHPORTAL_LOGIN_USERNAME_FAILURE_LIMIT} < {AXES_FAILURE_LIMIT})"
    )
AXES_COOLOFF_TIME = read_int("AUTHPORTAL_LOGIN_COOLOFF_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username"]
AXES_HANDLER = "portal.lockouts.LockoutHandler"
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "portal.views.auth.locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_SENSITIVE_PARAMETERS = ["password"]

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# --- transport security: on whenever the issuer is https ----------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "oauth.views.csrf_failure"  # JSON on the protocol paths, Django's page elsewhere
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = read_bool("AUTHPORTAL_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = read_int("AUTHPORTAL_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = read_bool("AUTHPORTAL_HSTS_PRELOAD", True)
if proxy_header := os.environ.get("AUTHPORTAL_PROXY_SSL_HEADER", "").strip():
    # e.g. HTTP_X_FORWARDED_PROTO: only when a proxy you run sets it and strips it from clients.
    SECURE_PROXY_SSL_HEADER = (proxy_header, "https")

# --- django-oauth-toolkit: our client model and secret handling --------------------------------
OAUTH2_PROVIDER_APPLICATION_MODEL = "clients.Client"
OAUTH2_PROVIDER = {
    "CLIENT_SECRET_GENERATOR_CLASS": "clients.hashers.ClientSecretGenerator",
    "CLIENT_SECRET_HASHER": "client_secret_sha256",
    "ACCESS_TOKEN_EXPIRE_SECONDS": AUTHPORTAL_TOKEN_LIFETIME_DEFAULT,
    # We serve none of DOT's own endpoints, but its models follow the RFC 9700 rules all the same.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
}

# --- Celery: Redis when REDIS_URL is set, otherwise a broker in the data directory ------------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
else:
    _broker_dir = DATA_DIR / "celery-broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Where the exchanges' bindings live; kombu's default is ./control, in whatever folder we run.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ALWAYS_EAGER = read_bool("CELERY_TASK_ALWAYS_EAGER", False)

LOG_LEVEL = read_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
