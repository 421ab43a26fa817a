"""add_trusted_issuer and remove_trusted_issuer, as an operator runs them."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError

from audit.models import AuditEvent
from clients.models import TrustedIssuer
from tests.clients.issuer_fakes import AUDIENCE, ISSUER, public_jwk, rsa_key
from tests.conftest import run_command

KEY = rsa_key()
JWKS_URI = "https://idp.example.com/.well-known/jwks.json"


def fails(*args: str) -> str:
    with pytest.raises(CommandError) as raised:
        run_command(*args)
    assert raised.value.returncode == 1
    message = str(raised.value)
    assert "\n" not in message
    return message


@pytest.mark.django_db
def test_add_with_a_jwks_uri_trusts_the_issuer_and_records_it():
    output = run_command(
        "add_trusted_issuer", ISSUER, "--jwks-uri", JWKS_URI, "--audience", AUDIENCE, "--actor", "carol"
    )
    trusted = TrustedIssuer.objects.get(issuer=ISSUER)
    assert (trusted.slug, trusted.jwks_uri, trusted.jwks) == ("idp-example-com", JWKS_URI, None)
    assert (trusted.audience, trusted.user_claim, trusted.algorithms) == (AUDIENCE, "sub", ["RS256", "ES256"])
    assert "user:idp-example-com:<sub>" in output
    event = AuditEvent.objects.get(event="issuer.added")
    assert (event.actor, event.subject) == ("carol", "issuer:idp-example-com")
    assert event.details["jwks_uri"] == JWKS_URI and event.details["algorithms"] == ["RS256", "ES256"]


@pytest.mark.django_db
def test_add_with_a_jwks_file_stores_its_public_keys(tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [public_jwk(KEY, kid="k1")]}))
    run_command(
        "add_trusted_issuer", ISSUER, "--jwks-file", str(path), "--audience", AUDIENCE,
        "--user-claim", "email", "--algorithm", "PS256", "--algorithm", "RS256", "--slug", "corp",
    )  # fmt: skip
    trusted = TrustedIssuer.objects.get(slug="corp")
    assert trusted.jwks == {"keys": [public_jwk(KEY, kid="k1")]} and trusted.jwks_uri == ""
    assert (trusted.user_claim, trusted.algorithms) == ("email", ["PS256", "RS256"])
    assert AuditEvent.objects.get(event="issuer.added").details["kids"] == ["k1"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--jwks-uri", "http://idp.example.com/jwks"], "must use https (http only on a loopback host)"),
        (["--jwks-uri", "https://user:pw@idp.example.com/jwks"], "must not hold credentials"),
        (["--jwks-uri", "file:///etc/passwd"], "must be an absolute https URL"),
        (["--jwks-uri", JWKS_URI, "--algorithm", "HS256"], "invalid choice: 'HS256'"),
        (["--jwks-uri", JWKS_URI, "--algorithm", "none"], "invalid choice: 'none'"),
        (["--jwks-uri", JWKS_URI, "--slug", "a:b"], "is not a slug"),
        (["--jwks-uri", JWKS_URI, "--user-claim", "no spaces"], "must be a claim name"),
        (["--jwks-file", "/nonexistent/jwks.json"], "Cannot read the JWKS file /nonexistent/jwks.json"),
        ([], "one of the arguments --jwks-uri --jwks-file is required"),
    ],
)
def test_add_refuses_bad_input_with_one_line(args, message):
    assert message in fails("add_trusted_issuer", ISSUER, "--audience", AUDIENCE, *args)
    assert not TrustedIssuer.objects.exists()
    assert not AuditEvent.objects.filter(event="issuer.added").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("issuer", "message"),
    [
        ("http://idp.example.com", "must use https"),
        ("https://idp.example.com?tenant=1", "no query"),
        ("https://idp.example.com#x", "without a fragment"),
        ("not a url", "must be an absolute https URL"),
    ],
)
def test_add_refuses_a_bad_issuer(issuer, message):
    assert message in fails("add_trusted_issuer", issuer, "--jwks-uri", JWKS_URI, "--audience", AUDIENCE)


@pytest.mark.django_db
def test_our_own_issuer_cannot_be_trusted_as_a_user_token_issuer(settings):
    settings.AUTHPORTAL_ISSUER = "https://auth.example.com"
    message = fails(
        "add_trusted_issuer", "https://auth.example.com", "--jwks-uri", JWKS_URI, "--audience", "x"
    )
    assert "our own issuer" in message


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not JSON"),
        ("[]", "is not a JWKS"),
        ('{"keys": []}', "holds no usable public signing key"),
        ('{"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}', "private or secret key"),
    ],
)
def test_add_refuses_a_bad_jwks_file(tmp_path, content, message):
    path = tmp_path / "jwks.json"
    path.write_text(content)
    assert message in fails("add_trusted_issuer", ISSUER, "--jwks-file", str(path), "--audience", AUDIENCE)


@pytest.mark.django_db
def test_a_private_jwk_in_the_file_is_refused_and_not_stored(tmp_path):
    from jwt.algorithms import RSAAlgorithm

    path = tmp_path / "jwks.json"
    private = RSAAlgorithm.to_jwk(KEY, as_dict=True) | {"kid": "k1"}
    path.write_text(json.dumps({"keys": [private]}))
    assert "private or secret key" in fails(
        "add_trusted_issuer", ISSUER, "--jwks-file", str(path), "--audience", AUDIENCE
    )
    assert not TrustedIssuer.objects.exists()


@pytest.mark.django_db
def test_an_issuer_or_slug_already_trusted_is_refused():
    run_command("add_trusted_issuer", ISSUER, "--jwks-uri", JWKS_URI, "--audience", AUDIENCE)
    assert "already trusted" in fails("add_trusted_issuer", ISSUER, "--jwks-uri", JWKS_URI, "--audience", "x")
    # Another tenant on the same host would take the same default slug: it must be given one.
    message = fails("add_trusted_issuer", ISSUER + "/tenant-2", "--jwks-uri", JWKS_URI, "--audience", "x")
    assert "names another trusted issuer" in message
    run_command(
        "add_trusted_issuer", ISSUER + "/tenant-2", "--jwks-uri", JWKS_URI, "--audience", "x", "--slug", "t2"
    )
    assert TrustedIssuer.objects.count() == 2


@pytest.mark.django_db
def test_remove_stops_trusting_and_records_it():
    run_command("add_trusted_issuer", ISSUER, "--jwks-uri", JWKS_URI, "--audience", AUDIENCE)
    output = run_command("remove_trusted_issuer", ISSUER, "--actor", "carol")
    assert "No longer trusting https://idp.example.com" in output
    assert not TrustedIssuer.objects.exists()
    event = AuditEvent.objects.get(event="issuer.removed")
    assert (event.actor, event.subject, event.details["issuer"]) == (
        "carol",
        "issuer:idp-example-com",
        ISSUER,
    )


@pytest.mark.django_db
def test_remove_of_an_unknown_issuer_fails_with_one_line():
    assert "No trusted issuer 'https://nobody.example'" in fails(
        "remove_trusted_issuer", "https://nobody.example"
    )
    assert not AuditEvent.objects.filter(event="issuer.removed").exists()


@pytest.mark.django_db
def test_the_default_actor_is_the_os_user():
    run_command("add_trusted_issuer", ISSUER, "--jwks-uri", JWKS_URI, "--audience", AUDIENCE)
    assert AuditEvent.objects.get(event="issuer.added").actor.startswith("os:")
