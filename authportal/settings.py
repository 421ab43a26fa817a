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
    read_networks,
    read_optional_secret,
    read_secret,
    read_url,
    setting_bool,
    setting_choice,
    setting_int,
    setting_list,
    setting_text,
)
from core.conf import AppSettings as conf
from core.databases import REPLICA

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("AUTHPORTAL_DATA_DIR", BASE_DIR / "var")).resolve()

DEBUG = read_bool("DEBUG", False)
SECRET_KEY = read_secret(
    "SECRET_KEY", data_dir=DATA_DIR, filename="secret_key", generate=lambda: secrets.token_urlsafe(50)
)

# --- the authorization server -------------------------------------------------------------------
# Every AUTHPORTAL_* setting's default, bounds and meaning are in core/conf.py (read with
# `core.conf.app_settings`); here each is read from the environment.
# Unset, the issuer follows HOST and PORT, where `make run` serves: http://localhost:8000 by default.
AUTHPORTAL_ISSUER = read_issuer(conf.ISSUER.env, default_issuer())
AUTHPORTAL_KEK = read_secret(
    conf.KEK.env,
    data_dir=DATA_DIR,
    filename="kek",
    generate=lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
)
AUTHPORTAL_SIGNING_ALG = setting_choice(conf.SIGNING_ALG)
AUTHPORTAL_JWKS_MAX_AGE = setting_int(conf.JWKS_MAX_AGE)
AUTHPORTAL_TOKEN_LIFETIME_DEFAULT = setting_int(conf.TOKEN_LIFETIME_DEFAULT)
AUTHPORTAL_TOKEN_LIFETIME_MAX = setting_int(conf.TOKEN_LIFETIME_MAX)
AUTHPORTAL_TOKEN_REQUEST_MAX_BYTES = setting_int(conf.TOKEN_REQUEST_MAX_BYTES)
AUTHPORTAL_KEY_ROTATION_DAYS = setting_int(conf.KEY_ROTATION_DAYS)
AUTHPORTAL_KEY_PREPUBLISH_SECONDS = setting_int(conf.KEY_PREPUBLISH_SECONDS)
AUTHPORTAL_KEY_RETIRED_KEEP_SECONDS = setting_int(conf.KEY_RETIRED_KEEP_SECONDS)
AUTHPORTAL_KEY_MARGIN_SECONDS = setting_int(conf.KEY_MARGIN_SECONDS)
AUTHPORTAL_KEK_PREVIOUS = setting_list(conf.KEK_PREVIOUS)
AUTHPORTAL_JWKS_FILE = setting_text(conf.JWKS_FILE)
AUTHPORTAL_PUBLIC_KEY_FILE = setting_text(conf.PUBLIC_KEY_FILE)
AUTHPORTAL_AUDIT_RETENTION_DAYS = setting_int(conf.AUDIT_RETENTION_DAYS)
AUTHPORTAL_AUDIT_SEAL_MAX_EVENTS = setting_int(conf.AUDIT_SEAL_MAX_EVENTS)
AUTHPORTAL_AUDIT_GAP_SECONDS = setting_int(conf.AUDIT_GAP_SECONDS)
AUTHPORTAL_AUDIT_PREPARED_INSERT = setting_bool(conf.AUDIT_PREPARED_INSERT)
AUTHPORTAL_AUDIT_WRITE_TIMEOUT_SECONDS = setting_int(conf.AUDIT_WRITE_TIMEOUT_SECONDS)
# Commands and Celery tasks wait as long as it takes (authportal/deadlines.py).
AUTHPORTAL_DB_TIMEOUT_PROTOCOL_MS = setting_int(conf.DB_TIMEOUT_PROTOCOL_MS)
AUTHPORTAL_DB_TIMEOUT_PORTAL_SECONDS = setting_int(conf.DB_TIMEOUT_PORTAL_SECONDS)
AUTHPORTAL_THREADS = setting_int(conf.THREADS)
AUTHPORTAL_REQUEST_BODY_TIMEOUT_SECONDS = setting_int(conf.REQUEST_BODY_TIMEOUT_SECONDS)
AUTHPORTAL_THROTTLE = setting_bool(conf.THROTTLE)
AUTHPORTAL_THROTTLE_WINDOW_SECONDS = setting_int(conf.THROTTLE_WINDOW_SECONDS)
AUTHPORTAL_THROTTLE_CLIENT_FAILURES = setting_int(conf.THROTTLE_CLIENT_FAILURES)
AUTHPORTAL_THROTTLE_ADDRESS_FAILURES = setting_int(conf.THROTTLE_ADDRESS_FAILURES)
AUTHPORTAL_TRUSTED_PROXIES = read_networks(conf.TRUSTED_PROXIES.env)
AUTHPORTAL_READY_SEAL_MAX_LAG_SECONDS = setting_int(conf.READY_SEAL_MAX_LAG_SECONDS)
AUTHPORTAL_METRICS_TOKEN = read_optional_secret(conf.METRICS_TOKEN.env) or ""
AUTHPORTAL_METRICS_ALLOW = read_networks(conf.METRICS_ALLOW.env)
AUTHPORTAL_CLIENT_ASSERTION_MAX_LIFETIME = setting_int(conf.CLIENT_ASSERTION_MAX_LIFETIME)
AUTHPORTAL_CLIENT_ASSERTION_TOKEN_ENDPOINT_AUDIENCE = setting_bool(
    conf.CLIENT_ASSERTION_TOKEN_ENDPOINT_AUDIENCE
)
AUTHPORTAL_REVOCATION_LIST_MAX_AGE = setting_int(conf.REVOCATION_LIST_MAX_AGE)

# --- Django -------------------------------------------------------------------------------------
_issuer_host = urlsplit(AUTHPORTAL_ISSUER).hostname or "localhost"
ALLOWED_HOSTS = read_list("ALLOWED_HOSTS", sorted({_issuer_host, "localhost", "127.0.0.1", "[::1]"}))
AUTHPORTAL_HTTPS = HTTPS = setting_bool(conf.HTTPS, AUTHPORTAL_ISSUER.startswith("https://"))

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "oauth2_provider",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "csp",
    "core",
    "audit",
    "clients",
    "keys",
    "revocation",
    "oauth",
    "portal",
    "api",
    "throttling",
    "monitoring",
]

MIDDLEWARE = [
    "authportal.middleware.request_id_middleware",
    "monitoring.middleware.request_observer_middleware",
    "throttling.middleware.token_throttle_middleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Everywhere, as `check --deploy` wants them by name: the protocol views are CSRF-exempt.
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Portal and API only: the protocol endpoints skip these (authportal/portal_middleware.py).
    "authportal.portal_middleware.SessionMiddleware",
    "authportal.portal_middleware.AuthenticationMiddleware",
    "authportal.portal_middleware.MessageMiddleware",
    "authportal.portal_middleware.CSPMiddleware",
    "authportal.portal_middleware.no_store_for_signed_in_pages",
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
if os.environ.get("DATABASE_REPLICA_URL", "").strip():
    # A streaming replica of the primary for the audit log's search and export (core/databases.py).
    DATABASES[REPLICA] = read_database("DATABASE_REPLICA_URL", "")
    DATABASES[REPLICA].setdefault("CONN_MAX_AGE", DATABASES["default"]["CONN_MAX_AGE"])
    DATABASES[REPLICA]["CONN_HEALTH_CHECKS"] = False
    if DATABASES[REPLICA]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES[REPLICA]["ENGINE"] = "authportal.postgres"
    # The test run reads the test database as the replica (there is no replication between test databases).
    DATABASES[REPLICA]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["core.databases.PrimaryReplicaRouter"]
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
AUTHPORTAL_SESSION_IDLE_MINUTES = setting_int(conf.SESSION_IDLE_MINUTES)
SESSION_COOKIE_AGE = AUTHPORTAL_SESSION_IDLE_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# django-axes, with the rules of portal/lockouts.py: a username is locked at one address after
# AUTHPORTAL_LOGIN_FAILURE_LIMIT failures there (never anybody else at that address), and at every
# address after AUTHPORTAL_LOGIN_USERNAME_FAILURE_LIMIT failures in all; for the cool-off after the
# last failure. A refused sign-in neither counts as a failure nor extends the lock.
AXES_FAILURE_LIMIT = setting_int(conf.LOGIN_FAILURE_LIMIT)  # app_settings.LOGIN_FAILURE_LIMIT
AUTHPORTAL_LOGIN_USERNAME_FAILURE_LIMIT = setting_int(conf.LOGIN_USERNAME_FAILURE_LIMIT)
for _relation in conf.RELATIONS:  # e.g. the username's limit is at least the address's
    if _problem := _relation.problem(globals()[_relation.lower.setting], globals()[_relation.upper.setting]):
        raise ImproperlyConfigured(_problem)
AUTHPORTAL_LOGIN_COOLOFF_MINUTES = setting_int(conf.LOGIN_COOLOFF_MINUTES)
AXES_COOLOFF_TIME = AUTHPORTAL_LOGIN_COOLOFF_MINUTES / 60  # hours
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

# --- the admin REST API (api/, /api/v1/) -------------------------------------------------------
# Requests a minute per caller (a client id, or a portal user) before 429 with Retry-After.
AUTHPORTAL_API_RATE_PER_MINUTE = setting_int(conf.API_RATE_PER_MINUTE)
# Project-wide only what no view can set for itself; the API's authentication, rights, throttle,
# formats and problem details are set on its views (api/views/common.py: AdminApiView).
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "api.schema.ProblemAutoSchema",
    "URL_FORMAT_OVERRIDE": None,  # `?format=` is the audit export's file format
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AuthPortal admin API",
    "DESCRIPTION": "Services, clients, grants, the call graph, trusted issuers, signing keys and the audit log. "
    "Authenticate with a bearer token of ours for the audience ISSUER/api, or a portal session.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",  # vendored assets, no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
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
    SECURE_SSL_REDIRECT = setting_bool(conf.SSL_REDIRECT)
    SECURE_HSTS_SECONDS = setting_int(conf.HSTS_SECONDS)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = setting_bool(conf.HSTS_PRELOAD)
if proxy_header := setting_text(conf.PROXY_SSL_HEADER):
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
# plain: one readable line per event (make run); json: one JSON object per line, with each request's
# id, client id, outcome and timing as fields (monitoring/middleware.py), for a log pipeline.
AUTHPORTAL_LOG_FORMAT = setting_choice(conf.LOG_FORMAT)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": AUTHPORTAL_LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
