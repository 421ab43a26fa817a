"""TokenClient against a scripted token endpoint: caching, one request under concurrency, retries, errors."""

from __future__ import annotations

import base64
import threading
from urllib.parse import parse_qs

import pytest
from authportal_client import AuthorizationServerUnavailable, InvalidClient, InvalidScope, TokenClient
from authportal_client.errors import InvalidTarget

from tests.sdk.conftest import Clock
from tests.sdk.fakes import fake_portal


@pytest.fixture
def portal():
    with fake_portal() as portal:
        yield portal


def client_for(portal, **options) -> TokenClient:
    options.setdefault("sleep", lambda seconds: None)
    return TokenClient(portal.url, "ms admin", "s3cret:+/", **options)


def test_the_token_endpoint_is_discovered_and_credentials_sent_as_rfc6749_basic(portal):
    client = client_for(portal)
    assert client.get_token(resource="https://doctors.internal", scope="doctors:read") == "token-1"
    assert portal.count("/.well-known/oauth-authorization-server") == 1
    encoded = portal.authorizations[0].removeprefix("Basic ")
    assert base64.b64decode(encoded).decode() == "ms+admin:s3cret%3A%2B%2F"
    assert parse_qs(portal.token_bodies[0]) == {
        "grant_type": ["client_credentials"],
        "resource": ["https://doctors.internal"],
        "scope": ["doctors:read"],
    }


def test_a_token_is_reused_until_shortly_before_it_expires(portal):
    clock = Clock(1000.0)
    client = client_for(portal, clock=clock, refresh_margin=60)
    first = client.get_token(resource="https://doctors.internal")
    clock.now += 539
    assert client.get_token(resource="https://doctors.internal") == first
    clock.now += 1  # 60 s before expiry
    assert client.get_token(resource="https://doctors.internal") != first
    assert portal.count("/o/token") == 2


def test_each_resource_and_scope_set_has_its_own_token_whatever_the_order(portal):
    client = client_for(portal)
    a = client.get_token(resource="https://doctors.internal", scope="doctors:read doctors:write")
    assert (
        client.get_token(resource=["https://doctors.internal"], scope=["doctors:write", "doctors:read"]) == a
    )
    assert client.get_token(resource="https://doctors.internal", scope="doctors:read") != a
    assert client.get_token(resource="https://college.internal") != a
    assert portal.count("/o/token") == 3


def test_fifty_threads_asking_at_once_cause_one_token_request(portal):
    client = client_for(portal)
    portal.token_delay.clear()  # hold the first request until every thread is waiting
    tokens: list[str] = []
    threads = [
        threading.Thread(target=lambda: tokens.append(client.get_token(resource="https://doctors.internal")))
        for _ in range(50)
    ]
    for thread in threads:
        thread.start()
    portal.token_delay.set()
    for thread in threads:
        thread.join(10)
    assert len(tokens) == 50 and len(set(tokens)) == 1
    assert portal.count("/o/token") == 1


def test_transient_failures_are_retried_with_backoff_then_succeed(portal):
    delays: list[float] = []
    portal.token_responses = [
        (503, {"error": "temporarily_unavailable"}, {"Retry-After": "2"}),
        (500, {}, {}),
        (429, {}, {}),
    ]
    client = client_for(portal, sleep=delays.append, backoff=0.25)
    assert client.get_token(resource="https://doctors.internal") == "token-4"
    assert delays[0] == 2.0  # Retry-After honoured
    assert 0.25 <= delays[1] <= 0.5 and 0.5 <= delays[2] <= 1.0  # doubling, with jitter downwards
    assert portal.count("/o/token") == 4


def test_giving_up_after_the_last_retry_says_so(portal):
    portal.token_responses = [(503, {}, {})] * 4
    with pytest.raises(AuthorizationServerUnavailable, match="after 4 attempts: HTTP 503"):
        client_for(portal, retries=3).get_token(resource="https://doctors.internal")


def test_an_unreachable_portal_is_retried_then_reported():
    with fake_portal() as portal:
        url = portal.url
    client = TokenClient(
        url, "id", "secret", token_endpoint=f"{url}/o/token", retries=1, sleep=lambda s: None
    )
    with pytest.raises(AuthorizationServerUnavailable, match="after 2 attempts"):
        client.get_token()


@pytest.mark.parametrize(
    ("error", "exception", "words"),
    [
        ("invalid_client", InvalidClient, "does not accept this client_id and secret"),
        ("invalid_scope", InvalidScope, "not granted the scope"),
        ("invalid_target", InvalidTarget, "not granted the resource"),
    ],
)
def test_a_refusal_raises_a_clear_error_at_once_without_retrying(portal, error, exception, words):
    portal.token_responses = [
        (400 if error != "invalid_client" else 401, {"error": error, "error_description": "no"}, {})
    ]
    with pytest.raises(exception, match=words) as raised:
        client_for(portal).get_token(resource="https://doctors.internal")
    assert raised.value.error == error
    assert portal.count("/o/token") == 1


def test_metadata_naming_another_issuer_is_refused(portal):
    client = TokenClient(portal.url + "/other", "id", "secret", retries=0)
    with pytest.raises(AuthorizationServerUnavailable):
        client.get_token()


def test_the_secret_never_shows_in_repr(portal):
    assert "s3cret" not in repr(client_for(portal))
