"""A year of scheduled rotations, seen by verifiers that cache our JWKS exactly as Cache-Control allows."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import jwt
import pytest
import time_machine
from django.utils import timezone

from clients.selectors import AuthenticatedClient
from keys.services import LifecycleTiming, key_revoke, key_rotate
from oauth.services import TokenTargets, token_issue

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}
AUDIENCE = "https://doctors.internal"
ISSUER = "http://localhost:8000"


@dataclass
class ModelVerifier:
    """Caches the JWKS for max-age; optionally refetches once when it meets an unknown kid."""

    client: object
    refetch_on_unknown_kid: bool
    keys: dict = field(default_factory=dict)
    fresh_until: datetime | None = None
    fetches: int = 0

    def fetch(self, now: datetime) -> None:
        response = self.client.get("/.well-known/jwks.json")
        max_age = int(response["Cache-Control"].split("max-age=")[1])
        jwks = response.json()
        for key in jwks["keys"]:
            assert not PRIVATE_MEMBERS & set(key), key
        self.keys = {key["kid"]: jwt.PyJWK(key) for key in jwks["keys"]}
        self.fresh_until = now + timedelta(seconds=max_age)
        self.fetches += 1

    def verify(self, token: str, now: datetime) -> str | None:
        """None when the token verifies, else why not."""
        if self.fresh_until is None or now >= self.fresh_until:
            self.fetch(now)
        kid = jwt.get_unverified_header(token)["kid"]
        if kid not in self.keys and self.refetch_on_unknown_kid:
            self.fetch(now)
        if kid not in self.keys:
            return f"unknown kid {kid}"
        try:
            jwt.decode(token, key=self.keys[kid], algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)
        except jwt.InvalidTokenError as exc:
            return str(exc)
        return None


def simulate(client, *, start: datetime, until: datetime, step: timedelta, lifetime: int) -> tuple[list, int]:
    """Beat runs the lifecycle step and ms_admin gets a token every `step`; both verifiers check each
    token when it is new (a key that just started signing) and at the last step before it expires
    (a key that has since retired)."""
    caller = AuthenticatedClient(
        pk=0, client_id="ms_admin", name="ms_admin", access_token_lifetime=lifetime, granted=[]
    )
    targets = TokenTargets([AUDIENCE], ["doctors:read"])
    verifiers = [
        ModelVerifier(client, refetch_on_unknown_kid=False),
        ModelVerifier(client, refetch_on_unknown_kid=True),
    ]
    live: list[tuple[str, datetime]] = []
    failures, checks = [], 0
    now = start
    with time_machine.travel(start, tick=False) as clock:
        while now < until:
            clock.move_to(now)
            key_rotate(now=now)
            issued = None
            while issued is None:  # the first token after a rotation is signed again, by the new key
                issued = token_issue(
                    client=caller, targets=targets, remote_addr=None, request_id="sim", now=now
                )
            live.append((issued.access_token, now + timedelta(seconds=lifetime)))
            live = [(token, exp) for token, exp in live if now < exp]
            for token, exp in live:
                if token != issued.access_token and now + step < exp:
                    continue
                for verifier in verifiers:
                    checks += 1
                    if (why := verifier.verify(token, now)) is not None:
                        failures.append((now, verifier.refetch_on_unknown_kid, why))
            now += step
    return failures, checks


@pytest.fixture
def simulation_settings(db, settings):
    # Verifiers cache for an hour, so a key that signed before it had been published that long
    # would fail the verifier that does not refetch on an unknown kid.
    settings.AUTHPORTAL_JWKS_MAX_AGE = 3600
    return settings


# Beat's step and a new token every 30 minutes in the suite; bench/year_of_rotations runs the same year
# every 10 minutes (a third of the suite's time for this test otherwise: about three minutes).
STEP_MINUTES = int(os.environ.get("YEAR_SIMULATION_STEP_MINUTES") or 30)


def test_a_year_of_scheduled_rotations_fails_no_token_during_its_lifetime(client, simulation_settings):
    start = timezone.now().replace(microsecond=0)
    step = timedelta(minutes=STEP_MINUTES)
    failures, checks = simulate(
        client, start=start, until=start + timedelta(days=365), step=step, lifetime=3600
    )
    from keys.models import SigningKey

    assert failures == []
    # Each token checked by both verifiers when it is new and at the last step before it expires (which
    # the tokens of the last hour do not reach).
    steps, unfinished = timedelta(days=365) // step, timedelta(seconds=3600) // step
    assert checks >= 4 * (steps - unfinished)
    assert (
        SigningKey.objects.filter(state="expired").count() >= 11
    )  # ~12 rotations, each key expired a day later
    assert SigningKey.objects.filter(state="active").count() == 1


def test_the_model_verifier_catches_a_key_that_signs_before_it_was_published(
    client, simulation_settings, monkeypatch
):
    # The same simulation against a lifecycle without pre-publication must fail: the proof above can fail.
    broken = LifecycleTiming(
        rotation=timedelta(days=30),
        prepublish=timedelta(0),
        activation_delay=timedelta(0),
        retired_keep=timedelta(days=1),
    )
    monkeypatch.setattr(LifecycleTiming, "from_settings", classmethod(lambda cls: broken))
    start = timezone.now().replace(microsecond=0)
    key_rotate(now=start)
    failures, _ = simulate(
        # Starting 35 minutes before the hour puts the strict verifier's hourly fetch between the
        # step that stages the key and the one that activates it.
        client,
        start=start + timedelta(days=29, hours=23, minutes=25),
        until=start + timedelta(days=30, hours=2),
        step=timedelta(minutes=10),
        lifetime=3600,
    )
    assert failures and all(refetch is False for _, refetch, _ in failures)


def test_a_revoked_keys_tokens_fail_once_the_verifiers_cache_expires(client, simulation_settings):
    start = timezone.now().replace(microsecond=0)
    key_rotate(now=start)
    caller = AuthenticatedClient(
        pk=0, client_id="ms_admin", name="ms_admin", access_token_lifetime=3600, granted=[]
    )
    with time_machine.travel(start, tick=False) as clock:
        token = token_issue(
            client=caller,
            targets=TokenTargets([AUDIENCE], ["doctors:read"]),
            remote_addr=None,
            request_id="",
            now=start,
        ).access_token
        verifier = ModelVerifier(client, refetch_on_unknown_kid=True)
        assert verifier.verify(token, start) is None
        key_revoke(kid=jwt.get_unverified_header(token)["kid"], now=start + timedelta(minutes=1))
        clock.move_to(start + timedelta(minutes=2))
        assert (
            verifier.verify(token, start + timedelta(minutes=2)) is None
        )  # still cached: max-age is a promise
        clock.move_to(start + timedelta(minutes=61))
        assert verifier.verify(token, start + timedelta(minutes=61)) is not None
