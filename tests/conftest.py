"""The fixed cast: services ms_doctor and ms_college, and ms_admin, the client that calls them."""

from __future__ import annotations

import base64
from io import StringIO
from urllib.parse import quote_plus, urlencode

import jwt
import pytest
from django.core.cache import cache
from django.core.management import call_command

from clients.external_subjects import external_jwks_forget
from clients.models import Service
from clients.selectors import call_graph_forget, client_credentials_forget
from clients.services import GrantSpec, RegisteredClient, ScopeSpec, client_register, service_register
from keys.tokens import signer_cache_clear
from oauth.exchange import exchange_key_cache_clear
from throttling.ledger import ledger_forget
from throttling.limiter import limiter_reset
from throttling.selectors import token_quotas_forget


@pytest.fixture(autouse=True)
def static_files_without_manifest(settings):
    # The manifest comes from collectstatic, which `make run` runs; tests serve the source files.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Portal users' passwords: PBKDF2 costs ~0.2 s a hash, and the tests make many users.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "clients.hashers.ClientSecretHasher",
    ]


@pytest.fixture(autouse=True)
def fresh_caches():
    # Each test's database starts without keys or clients; a key, JWKS or client's credentials cached
    # by an earlier test must not leak.
    forgets = (
        signer_cache_clear,
        client_credentials_forget,
        call_graph_forget,
        exchange_key_cache_clear,
        external_jwks_forget,
        cache.clear,
        throttles_forget,
    )
    for forget in forgets:
        forget()
    yield
    for forget in forgets:
        forget()


def throttles_forget() -> None:
    # The limits' counters (in Redis too, when the tests run with REDIS_URL), counts and quotas.
    limiter_reset()
    ledger_forget()
    token_quotas_forget()


def registered_service(name: str, *scopes: str, audience: str = "") -> Service:
    """A service registered with these scopes; `ms_orders` is https://orders.internal unless told."""
    audience = audience or f"https://{name.removeprefix('ms_')}.internal"
    return service_register(name=name, audience=audience, scopes=[ScopeSpec(scope) for scope in scopes])


@pytest.fixture
def ms_doctor(db):
    return registered_service(
        "ms_doctor", "doctors:read", "doctors:write", audience="https://doctors.internal"
    )


@pytest.fixture
def ms_college(db):
    return registered_service("ms_college", "college:read")


@pytest.fixture
def ms_admin(ms_doctor, ms_college) -> RegisteredClient:
    """Granted doctors:read and college:read: scopes on two services."""
    return client_register(
        name="ms_admin",
        grants=[GrantSpec("ms_doctor", "doctors:read"), GrantSpec("ms_college", "college:read")],
    )


@pytest.fixture
def ms_reports(ms_doctor) -> RegisteredClient:
    """Granted both scopes of ms_doctor and nothing else."""
    return client_register(
        name="ms_reports",
        grants=[GrantSpec("ms_doctor", "doctors:read"), GrantSpec("ms_doctor", "doctors:write")],
    )


def run_command(*args: str) -> str:
    """What a management command prints, run as an operator runs it (a CommandError raises)."""
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def basic_auth(client_id: str, client_secret: str) -> str:
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def pyjwt_decode(client, token: str, audience: str | list[str]) -> dict:
    """Verify with PyJWT against the JWKS the endpoint publishes: our code is not the judge."""
    jwks = client.get("/.well-known/jwks.json").json()
    header = jwt.get_unverified_header(token)
    key = next(jwt.PyJWK(k) for k in jwks["keys"] if k["kid"] == header["kid"])
    return jwt.decode(
        token,
        key=key,
        algorithms=["RS256"],
        audience=audience,
        issuer="http://localhost:8000",
        options={"require": ["iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"]},
    )


def token_status(client, client_id: str, secret: str) -> int:
    """The status /o/token answers a client_credentials request with these credentials."""
    return client.post(
        "/o/token",
        data="grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic_auth(client_id, secret),
    ).status_code


FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def request_token(client):
    """POST /o/token as a service would: form-encoded, client_secret_basic unless told otherwise."""

    def post(registered: RegisteredClient | None = None, *, auth: str = "basic", headers=None, **params):
        body = {"grant_type": "client_credentials", **params}
        extra = dict(headers or {})
        if registered is not None and auth == "basic":
            extra["HTTP_AUTHORIZATION"] = basic_auth(registered.client.client_id, registered.client_secret)
        elif registered is not None and auth == "post":
            body.update(client_id=registered.client.client_id, client_secret=registered.client_secret)
        pairs = [
            (k, v) for k, values in body.items() for v in (values if isinstance(values, list) else [values])
        ]
        return client.post(
            "/o/token", data=urlencode(pairs), content_type="application/x-www-form-urlencoded", **extra
        )

    return post


@pytest.fixture
def post_body(client):
    """POST `body` as it is to the token endpoint (or `path`), with `registered`'s Basic credentials."""

    def post(registered: RegisteredClient, body: str, *, path="/o/token", content_type=FORM, **headers):
        credentials = basic_auth(registered.client.client_id, registered.client_secret)
        return client.post(
            path, data=body, content_type=content_type, HTTP_AUTHORIZATION=credentials, **headers
        )

    return post


PASSWORD = "correct horse battery staple 42"


@pytest.fixture
def admin_user(db):
    from portal.services import portal_user_create

    return portal_user_create(username="alice-admin", role="admin", password=PASSWORD)


@pytest.fixture
def auditor_user(db):
    from portal.services import portal_user_create

    return portal_user_create(username="bob-auditor", role="auditor", password=PASSWORD)


@pytest.fixture
def outsider_user(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username="eve-outsider", password=PASSWORD)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def auditor_client(client, auditor_user):
    client.force_login(auditor_user)
    return client
