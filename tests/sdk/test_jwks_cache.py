"""The Verifier's JWKS cache against a scripted JWKS endpoint: max-age, ETag, new and made-up kids,
outages."""

from __future__ import annotations

import threading
import time

import pytest
from authportal_client import InvalidToken, KeysUnavailable, Verifier

from tests.sdk.conftest import AUDIENCE, NOW, Clock, good_claims, header_for
from tests.sdk.fakes import fake_portal


@pytest.fixture
def portal(signing_keys):
    with fake_portal() as portal:
        portal.jwks = {"keys": [signing_keys["RS256"].public_jwk]}
        yield portal


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def verifier(portal, clock):
    return Verifier(portal.url, AUDIENCE, clock=clock, refetch_cooldown=30)


def token(key, issuer, **header):
    return key.sign(header_for(key, **header), good_claims(iss=issuer))


def test_keys_are_discovered_from_the_metadata_and_fetched_once_per_max_age(
    portal, verifier, clock, signing_keys
):
    good = token(signing_keys["RS256"], portal.url)
    for _ in range(100):
        verifier.verify(good)
    assert portal.count("/.well-known/oauth-authorization-server") == 1
    assert portal.count("/jwks.json") == 1
    clock.now += 301
    verifier.verify(good)
    assert portal.count("/jwks.json") == 2


def test_a_stale_copy_is_revalidated_with_its_etag(portal, verifier, clock, signing_keys):
    good = token(signing_keys["RS256"], portal.url)
    verifier.verify(good)
    clock.now += 301
    verifier.verify(good)
    clock.now += 301
    verifier.verify(good)
    assert portal.count("/jwks.json") == 3
    assert verifier.keys.fetches == 3 and verifier.keys.snapshot.etag == '"v1"'


def test_a_new_kid_is_fetched_as_soon_as_a_token_names_it(portal, verifier, clock, signing_keys):
    verifier.verify(token(signing_keys["RS256"], portal.url))
    portal.jwks = {"keys": [signing_keys["RS256"].public_jwk, signing_keys["ES256"].public_jwk]}
    portal.jwks_headers = {**portal.jwks_headers, "ETag": '"v2"'}
    # The same second as the first fetch, well inside max-age and the cooldown: an emergency rotation.
    assert verifier.verify(token(signing_keys["ES256"], portal.url))
    assert portal.count("/jwks.json") == 2


def test_a_new_kid_met_while_a_fetch_for_another_is_running_gets_a_fetch_of_its_own(
    portal, clock, signing_keys
):
    verifier = Verifier(portal.url, AUDIENCE, clock=clock, refetch_min_interval=0.2)
    verifier.verify(token(signing_keys["RS256"], portal.url))
    rsa, ec = signing_keys["RS256"], signing_keys["ES256"]
    portal.jwks_delay = 0.5  # a made-up kid's lookup is on the wire when the new key appears
    refused = []
    made_up = token(rsa, portal.url, kid="made-up")
    attacker = threading.Thread(
        target=lambda: refused.append(pytest.raises(InvalidToken, verifier.verify, made_up))
    )
    attacker.start()
    time.sleep(0.4)
    portal.jwks = {"keys": [rsa.public_jwk, ec.public_jwk]}
    portal.jwks_headers = {**portal.jwks_headers, "ETag": '"v2"'}
    portal.jwks_delay = 0
    assert verifier.verify(token(ec, portal.url))
    attacker.join(10)
    assert len(refused) == 1
    assert portal.count("/jwks.json") == 3


def test_a_flood_of_made_up_kids_fetches_at_most_once_per_interval_and_each_kid_once_per_cooldown(
    portal, clock, signing_keys
):
    verifier = Verifier(portal.url, AUDIENCE, clock=clock, refetch_min_interval=0.1)
    verifier.verify(token(signing_keys["RS256"], portal.url))
    rsa = signing_keys["RS256"]
    forged = [rsa.sign(header_for(rsa, kid=f"random-{n}"), good_claims(iss=portal.url)) for n in range(200)]
    failures: list[str] = []

    def attack(batch: list[str]) -> None:
        for item in batch:
            try:
                verifier.verify(item)
            except InvalidToken:
                failures.append(item)

    started = time.monotonic()
    threads = [threading.Thread(target=attack, args=(forged[n::20],)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    elapsed = time.monotonic() - started
    assert len(failures) == 200
    # The first load, then one fetch per interval at most, each answering every lookup waiting.
    assert portal.count("/jwks.json") <= 2 + elapsed / 0.1
    assert portal.count("/jwks.json") <= 1 + 10 + 1  # 20 threads, 10 kids each: one shared fetch a round
    fetched = portal.count("/jwks.json")
    attack(forged)  # the same kids again, inside the cooldown: no fetch at all
    assert portal.count("/jwks.json") == fetched
    assert len(failures) == 400


def test_cached_keys_keep_working_while_the_jwks_endpoint_is_down(portal, verifier, clock, signing_keys):
    good = token(signing_keys["RS256"], portal.url)
    verifier.verify(good)
    portal.jwks_status = 503
    clock.now += 400  # past max-age: the refresh fails, the keys we have still verify
    assert verifier.verify(good).client_id == "client-1"
    clock.now += 31
    assert verifier.verify(good).client_id == "client-1"
    assert portal.count("/jwks.json") == 3


def test_before_any_jwks_was_fetched_an_outage_refuses_tokens_as_keys_unavailable(
    portal, verifier, signing_keys
):
    portal.jwks_status = 503
    with pytest.raises(KeysUnavailable):
        verifier.verify(token(signing_keys["RS256"], portal.url))


def test_a_jwks_url_given_explicitly_skips_discovery(portal, clock, signing_keys):
    verifier = Verifier(portal.url, AUDIENCE, jwks_url=f"{portal.url}/jwks.json", clock=clock)
    verifier.verify(token(signing_keys["RS256"], portal.url))
    assert portal.count("/.well-known/oauth-authorization-server") == 0


def test_max_age_zero_still_refreshes_a_known_key_at_most_once_per_cooldown(
    portal, verifier, clock, signing_keys
):
    portal.jwks_headers = {"Cache-Control": "no-store"}
    good = token(signing_keys["RS256"], portal.url)
    for _ in range(50):
        verifier.verify(good)
    assert portal.count("/jwks.json") == 1
    assert clock.now == NOW
