"""external_subject_verify: every check on a trusted issuer's user token, and the issuer's JWKS cache.

Tokens are minted with PyJWT (or assembled by hand when no library would sign them) with keys made
here; the issuer's JWKS is served on loopback by tests/clients/issuer_fakes.py.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit.actor import Actor
from clients.external_subjects import (
    JWKS_REFETCH_COOLDOWN_SECONDS,
    JWKS_STALE_LIMIT_SECONDS,
    ExternalKeysUnavailable,
    ExternalTokenError,
    external_subject_name,
    external_subject_verify,
)
from clients.models import RegistryVersion
from clients.services import trusted_issuer_add, trusted_issuer_remove
from tests.clients.issuer_fakes import (
    AUDIENCE,
    ISSUER,
    FakeIssuer,
    b64,
    claims_at,
    compact,
    ec_key,
    mint,
    public_jwk,
    rsa_key,
    serving,
)

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
RSA = rsa_key()
EC = ec_key()
OTHER_RSA = rsa_key()


@pytest.fixture
def idp():
    with serving(FakeIssuer()) as fake:
        fake.jwks = {"keys": [public_jwk(RSA, kid="k1"), public_jwk(EC, kid="e1")]}
        yield fake


@pytest.fixture
def trusted(db, idp):
    return trusted_issuer_add(
        issuer=ISSUER,
        jwks_uri=f"{idp.url}/jwks.json",
        audience=AUDIENCE,
        slug="idp",
        actor=Actor(name="test"),
    )


def refused(token: str, *, now: datetime = NOW) -> ExternalTokenError:
    with pytest.raises(ExternalTokenError) as raised:
        external_subject_verify(token=token, now=now)
    assert str(raised.value)
    assert len(token) < 8 or token not in str(raised.value)  # fixed text, never the token
    return raised.value


def test_a_good_token_names_the_user_in_the_issuers_namespace(trusted, idp):
    subject = external_subject_verify(token=mint(claims_at(NOW), RSA), now=NOW)
    assert subject.subject == "user:idp:alice"
    assert (subject.user_id, subject.issuer, subject.issuer_slug) == ("alice", ISSUER, "idp")
    assert subject.expires_at == NOW + timedelta(seconds=300)
    assert subject.claims["aud"] == AUDIENCE
    # ES256 is allowed by default too; the JWKS was fetched once and is cached for its max-age.
    assert external_subject_verify(token=mint(claims_at(NOW), EC, kid="e1", alg="ES256"), now=NOW)
    assert idp.fetches() == 1


def test_alg_none_is_refused(trusted):
    token = compact({"alg": "none", "kid": "k1"}, claims_at(NOW))
    assert refused(token).reason == "algorithm_not_allowed"


def test_hs256_signed_with_the_issuers_public_key_is_refused(trusted):
    pem = RSA.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    header, claims = {"alg": "HS256", "kid": "k1", "typ": "JWT"}, claims_at(NOW)
    signing_input = compact(header, claims).rsplit(".", 1)[0]
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    assert refused(f"{signing_input}.{b64(signature)}").reason == "algorithm_not_allowed"


def test_an_algorithm_the_issuer_does_not_allow_is_refused(db, idp):
    trusted_issuer_add(
        issuer=ISSUER, jwks_uri=f"{idp.url}/jwks.json", audience=AUDIENCE, algorithms=["ES256"]
    )
    assert refused(mint(claims_at(NOW), RSA)).reason == "algorithm_not_allowed"


def test_an_unknown_kid_is_refetched_only_after_the_cooldown(trusted, idp):
    assert external_subject_verify(token=mint(claims_at(NOW), RSA), now=NOW)
    new_key = rsa_key()
    idp.jwks = {"keys": [*idp.jwks["keys"], public_jwk(new_key, kid="k2")]}
    idp.headers = {"Cache-Control": "public, max-age=300", "ETag": '"v2"'}
    soon = NOW + timedelta(seconds=1)
    token = mint(claims_at(soon), new_key, kid="k2")
    assert refused(token, now=soon).reason == "unknown_kid"
    assert refused(token, now=soon + timedelta(seconds=5)).reason == "unknown_kid"
    assert idp.fetches() == 1  # a flood of made-up kids cannot make us hammer the issuer
    later = NOW + timedelta(seconds=JWKS_REFETCH_COOLDOWN_SECONDS + 1)
    assert external_subject_verify(token=token, now=later).subject == "user:idp:alice"
    assert idp.fetches() == 2


def test_the_jwks_is_refetched_when_its_max_age_ends_and_revalidated_by_etag(trusted, idp):
    idp.headers = {"Cache-Control": "max-age=60", "ETag": '"v1"'}
    assert external_subject_verify(token=mint(claims_at(NOW), RSA), now=NOW)
    assert external_subject_verify(token=mint(claims_at(NOW), RSA), now=NOW + timedelta(seconds=59))
    assert idp.fetches() == 1
    later = NOW + timedelta(seconds=61)
    assert external_subject_verify(token=mint(claims_at(later), RSA), now=later)
    assert idp.fetches() == 2  # answered 304: the keys we had stay


def test_a_key_removed_from_the_jwks_stops_verifying_once_the_copy_expires(trusted, idp):
    assert external_subject_verify(token=mint(claims_at(NOW), RSA), now=NOW)
    idp.jwks = {"keys": [public_jwk(EC, kid="e1")]}
    idp.headers = {"Cache-Control": "max-age=300", "ETag": '"v2"'}
    later = NOW + timedelta(seconds=301)
    assert refused(mint(claims_at(later), RSA), now=later).reason == "unknown_kid"


def test_a_token_for_an_issuer_not_trusted_is_refused(trusted):
    # The issuer is compared exactly: a trailing slash is another issuer.
    assert refused(mint(claims_at(NOW, iss=ISSUER + "/"), RSA)).reason == "unknown_issuer"
    assert refused(mint(claims_at(NOW, iss="https://evil.example"), RSA)).reason == "unknown_issuer"
    assert refused(mint(claims_at(NOW, iss=None), RSA)).reason == "missing_claim"
    for hostile in ("\x00", ISSUER + "\x00", "h" * 5000):
        assert refused(mint(claims_at(NOW, iss=hostile), RSA)).reason == "unknown_issuer"
    assert refused(compact({"alg": "RS256", "kid": "k1"}, claims_at(NOW, iss=42))).reason == "missing_claim"


def test_a_token_signed_by_another_key_under_a_known_kid_is_refused(trusted):
    assert refused(mint(claims_at(NOW), OTHER_RSA)).reason == "bad_signature"


def test_a_kid_of_another_key_type_is_refused(trusted):
    # RS256 in the header, the EC key's kid: the key does not fit the algorithm.
    assert refused(mint(claims_at(NOW), RSA, kid="e1")).reason == "bad_key"


def test_the_audience_must_be_contained(trusted):
    assert refused(mint(claims_at(NOW, aud="https://other.internal"), RSA)).reason == "wrong_audience"
    assert refused(mint(claims_at(NOW, aud=None), RSA)).reason == "missing_claim"
    several = mint(claims_at(NOW, aud=["https://other.internal", AUDIENCE]), RSA)
    assert external_subject_verify(token=several, now=NOW).subject == "user:idp:alice"


def test_exp_is_required_and_must_be_in_the_future(trusted):
    at = int(NOW.timestamp())
    assert refused(mint(claims_at(NOW, exp=None), RSA)).reason == "missing_claim"
    assert refused(mint(claims_at(NOW, iat=at - 600, exp=at - 31), RSA)).reason == "expired"
    assert external_subject_verify(token=mint(claims_at(NOW, iat=at - 600, exp=at - 10), RSA), now=NOW)
    assert refused(mint(claims_at(NOW, exp="2000000000"), RSA)).reason == "malformed"


def test_nbf_and_iat_in_the_future_are_refused(trusted):
    at = int(NOW.timestamp())
    assert refused(mint(claims_at(NOW, nbf=at + 120), RSA)).reason == "not_yet_valid"
    assert refused(mint(claims_at(NOW, iat=at + 120, exp=at + 600), RSA)).reason == "issued_in_future"
    assert external_subject_verify(token=mint(claims_at(NOW, nbf=at + 10, iat=at + 10), RSA), now=NOW)


def test_the_user_claim_must_be_a_short_non_empty_string(trusted):
    assert refused(mint(claims_at(NOW, sub=None), RSA)).reason == "missing_user_claim"
    for bad in ("", 42, ["alice"], "a" * 256):
        assert refused(mint(claims_at(NOW, sub=bad), RSA)).reason == "bad_user_claim"
    assert external_subject_verify(token=mint(claims_at(NOW, sub="a" * 255), RSA), now=NOW)


def test_a_configured_user_claim_is_read_instead_of_sub(db, idp):
    trusted_issuer_add(
        issuer=ISSUER, jwks_uri=f"{idp.url}/jwks.json", audience=AUDIENCE, user_claim="email", slug="corp"
    )
    subject = external_subject_verify(token=mint(claims_at(NOW, email="a@corp.example"), RSA), now=NOW)
    assert subject.subject == "user:corp:a%40corp.example"
    assert refused(mint(claims_at(NOW), RSA)).reason == "missing_user_claim"


@pytest.mark.parametrize(
    "user_id", ["idp:admin", "other:bob", "%3Aalice", "alice\nuser:idp:root", "a b/c?d", "é🙂", "\x00"]
)
def test_a_user_id_cannot_forge_the_namespace(trusted, user_id):
    subject = external_subject_verify(token=mint(claims_at(NOW, sub=user_id), RSA), now=NOW).subject
    prefix, slug, encoded = subject.split(":")  # exactly two colons, whatever the user id
    assert (prefix, slug) == ("user", "idp")
    assert unquote(encoded) == user_id  # and the encoding is reversible, so no two ids collide
    assert encoded.isascii() and encoded.isprintable()


def test_the_namespace_is_injective_across_issuers_and_ids():
    names = {
        external_subject_name(slug=slug, user_id=user_id)
        for slug, user_id in [("a", "b:c"), ("a-b", "c"), ("a", "b%3Ac"), ("a", "b"), ("ab", ""), ("a", "%")]
    }
    assert len(names) == 6


def test_a_user_id_that_is_not_unicode_is_refused(trusted):
    token = mint(claims_at(NOW, sub="\ud800"), RSA)
    assert refused(token).reason == "bad_user_claim"


def test_a_jwks_server_that_is_down_is_a_clear_refusal(trusted, idp):
    idp.status = 503
    error = refused(mint(claims_at(NOW), RSA))
    assert isinstance(error, ExternalKeysUnavailable) and error.reason == "jwks_unavailable"
    refused(mint(claims_at(NOW), RSA), now=NOW + timedelta(seconds=1))
    assert idp.fetches() == 1  # no retry before the cooldown


def test_a_jwks_url_nobody_listens_on_is_a_clear_refusal(db):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    trusted_issuer_add(issuer=ISSUER, jwks_uri=f"http://127.0.0.1:{port}/jwks.json", audience=AUDIENCE)
    assert isinstance(refused(mint(claims_at(NOW), RSA)), ExternalKeysUnavailable)


def test_cached_keys_outlive_a_jwks_outage_for_a_bounded_time(trusted, idp):
    idp.headers = {"Cache-Control": "max-age=60"}
    assert external_subject_verify(token=mint(claims_at(NOW), RSA), now=NOW)
    idp.status = 503
    later = NOW + timedelta(seconds=600)
    assert external_subject_verify(token=mint(claims_at(later), RSA), now=later)
    too_late = NOW + timedelta(seconds=60 + JWKS_STALE_LIMIT_SECONDS + 1)
    assert isinstance(refused(mint(claims_at(too_late), RSA), now=too_late), ExternalKeysUnavailable)


def test_a_jwks_url_that_redirects_is_not_followed(trusted, idp):
    idp.redirect_to = f"{idp.url}/elsewhere.json"
    assert isinstance(refused(mint(claims_at(NOW), RSA)), ExternalKeysUnavailable)
    assert "/elsewhere.json" not in idp.paths


def test_a_jwks_redirecting_to_another_host_is_not_followed(trusted, idp):
    idp.redirect_to = "https://attacker.example/jwks.json"
    assert isinstance(refused(mint(claims_at(NOW), RSA)), ExternalKeysUnavailable)


def test_a_jwks_over_the_size_limit_is_refused(trusted, idp):
    idp.padding = 300 * 1024
    assert isinstance(refused(mint(claims_at(NOW), RSA)), ExternalKeysUnavailable)


def test_keys_named_in_the_token_are_never_used(trusted):
    attacker = rsa_key()
    claims = claims_at(NOW)
    headers = {"kid": "k1", "jwk": public_jwk(attacker, kid="k1"), "jku": "https://attacker.example/jwks"}
    token = jwt.encode(claims, attacker, algorithm="RS256", headers=headers)
    assert refused(token).reason == "bad_signature"


def test_a_stored_jwks_verifies_without_any_fetch(db):
    trusted_issuer_add(
        issuer=ISSUER, jwks={"keys": [public_jwk(RSA, kid="k1")]}, audience=AUDIENCE, slug="filed"
    )
    assert external_subject_verify(token=mint(claims_at(NOW), RSA), now=NOW).subject == "user:filed:alice"
    assert refused(mint(claims_at(NOW), OTHER_RSA, kid="k9")).reason == "unknown_kid"


def test_a_single_key_without_kid_verifies_a_token_without_kid(db):
    jwk = public_jwk(RSA, kid="x")
    del jwk["kid"]
    trusted_issuer_add(issuer=ISSUER, jwks={"keys": [jwk]}, audience=AUDIENCE)
    assert external_subject_verify(token=mint(claims_at(NOW), RSA, kid=None), now=NOW)


def test_garbage_is_malformed_not_a_crash(trusted):
    for token in (
        "",
        "x",
        "a.b.c",
        "e30.e30.",
        "x" * 20000,
        compact({"alg": "RS256"}, claims_at(NOW))[:-1] + "!",
    ):
        assert refused(token).reason in {"malformed", "algorithm_not_allowed", "missing_claim", "unknown_kid"}


def test_a_removed_issuer_is_no_longer_trusted(trusted):
    token = mint(claims_at(NOW), RSA)
    assert external_subject_verify(token=token, now=NOW)
    trusted_issuer_remove(trusted_issuer=trusted, actor=Actor(name="test"))
    assert refused(token).reason == "unknown_issuer"


def test_adding_and_removing_an_issuer_moves_the_registry_version(db, idp):
    def version() -> int:
        return RegistryVersion.objects.get(pk=1).version

    before = version()
    trusted = trusted_issuer_add(issuer=ISSUER, jwks_uri=f"{idp.url}/jwks.json", audience=AUDIENCE)
    assert version() > before
    before = version()
    trusted_issuer_remove(trusted_issuer=trusted)
    assert version() > before


@pytest.mark.parametrize("algorithm", ["none", "HS256", "HS512", "RS1"])
def test_only_asymmetric_algorithms_can_be_registered(db, algorithm):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as raised:
        trusted_issuer_add(
            issuer=ISSUER, jwks_uri="https://idp.example.com/jwks", audience=AUDIENCE, algorithms=[algorithm]
        )
    assert "is not allowed: use asymmetric algorithms" in str(raised.value.message_dict["algorithms"])
