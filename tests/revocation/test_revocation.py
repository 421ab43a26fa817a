"""Revocation: a token revoked through each path (RFC 7009 by its client, the command, the portal, the
compromised-client button) fails introspection at once and the SDK's Verifier within the revocation
list's max-age; tokens of other clients are untouched. The list is signed, cacheable and revalidated."""

from __future__ import annotations

import time
from io import StringIO

import jwt
import pytest
from authportal_client import InvalidToken, TokenClient, Verifier
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import AuditEvent
from clients.models import Client
from core.ids import random_id
from keys.selectors import jwks_build
from revocation.models import ClientTokensRevocation, RevokedToken
from revocation.services import revocations_purge

DOCTORS = "https://doctors.internal"


def introspect(post_as, caller, token: str) -> dict:
    response = post_as("/o/introspect", caller, token=token)
    assert response.status_code == 200, response.content
    return response.json()


def jti_of(token: str) -> str:
    return jwt.decode(token, options={"verify_signature": False})["jti"]


@pytest.mark.django_db
def test_a_client_revokes_its_own_token_and_introspection_refuses_it_at_once(
    post_as, token_for, ms_admin, ms_reports, doctor_gateway
):
    revoked, kept, others = token_for(ms_admin), token_for(ms_admin), token_for(ms_reports)
    response = post_as("/o/revoke", ms_admin, token=revoked, token_type_hint="access_token")
    assert response.status_code == 200
    assert response.content == b"" and response["Cache-Control"] == "no-store"
    assert introspect(post_as, doctor_gateway, revoked) == {"active": False}
    assert introspect(post_as, doctor_gateway, kept)["active"] is True
    assert introspect(post_as, doctor_gateway, others)["active"] is True
    row = AuditEvent.objects.get(event="revocation.recorded")
    assert row.actor == ms_admin.client.client_id
    assert row.details == {
        "kind": "token",
        "jti": jti_of(revoked),
        "exp": row.details["exp"],
        "via": "endpoint",
    }
    assert revoked not in str(row.details)


@pytest.mark.django_db
def test_revoking_another_clients_token_is_refused_and_revokes_nothing(
    post_as, token_for, ms_admin, ms_reports
):
    theirs = token_for(ms_reports)
    response = post_as("/o/revoke", ms_admin, token=theirs)
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"
    assert not RevokedToken.objects.exists()
    assert (
        AuditEvent.objects.get(event="revocation.refused")
        .details["reason"]
        .startswith("token of another client")
    )


@pytest.mark.django_db
def test_a_token_that_is_not_ours_is_answered_200_and_wrong_credentials_401(post_as, ms_admin):
    assert post_as("/o/revoke", ms_admin, token="not.a.token").status_code == 200
    assert not RevokedToken.objects.exists()
    ms_admin_wrong = type(ms_admin)(client=ms_admin.client, client_secret="wrong")
    response = post_as("/o/revoke", ms_admin_wrong, token="x")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    row = AuditEvent.objects.get(event="revocation.refused")
    assert row.details == {"error": "invalid_client", "reason": "wrong client secret"}
    assert post_as("/o/revoke", ms_admin).json()["error"] == "invalid_request"  # no token parameter


@pytest.mark.django_db
def test_revoke_tokens_jti_revokes_one_token_and_says_whose(token_for, post_as, ms_admin, doctor_gateway):
    token = token_for(ms_admin)
    out = StringIO()
    call_command("revoke_tokens", "--jti", jti_of(token), "--actor", "carol", stdout=out)
    assert f"of client {ms_admin.client.client_id}" in out.getvalue()
    assert introspect(post_as, doctor_gateway, token) == {"active": False}
    row = AuditEvent.objects.get(event="revocation.recorded")
    assert (row.actor, row.details["via"]) == ("carol", "command")
    with pytest.raises(CommandError, match="No token"):
        call_command("revoke_tokens", "--jti", "never-issued")
    # A jti that starts with "-" (ours never do now; a token issued before may) is given as --jti=JTI.
    with pytest.raises(CommandError, match="No token"):
        call_command("revoke_tokens", "--jti=-never-issued")


def test_the_ids_people_copy_into_commands_never_start_with_a_dash():
    # secrets.token_urlsafe starts one value in 64 with "-", which a command line reads as an option.
    assert not [value for value in (random_id(18) for _ in range(5000)) if value.startswith("-")]


@pytest.mark.django_db
def test_revoke_tokens_client_revokes_every_token_and_disables_it(
    token_for, post_as, request_token, ms_admin, ms_reports, doctor_gateway
):
    held = [token_for(ms_admin), token_for(ms_admin)]
    others = token_for(ms_reports)
    call_command("revoke_tokens", "--client", "ms_admin", stdout=StringIO())
    assert [introspect(post_as, doctor_gateway, token) for token in held] == [{"active": False}] * 2
    assert introspect(post_as, doctor_gateway, others)["active"] is True
    assert not Client.objects.get(name="ms_admin").enabled
    assert request_token(ms_admin, resource=DOCTORS).status_code == 401
    events = list(
        AuditEvent.objects.filter(event__in=("revocation.recorded", "client.disabled"))
        .order_by("id")
        .values_list("event", flat=True)
    )
    assert events == ["revocation.recorded", "client.disabled"]


@pytest.mark.django_db
def test_revoke_tokens_client_with_rotate_secret_gives_a_new_secret_and_the_old_stops(
    token_for, post_as, request_token, ms_admin, doctor_gateway
):
    held = token_for(ms_admin)
    out = StringIO()
    call_command("revoke_tokens", "--client", "ms_admin", "--rotate-secret", stdout=out)
    new_secret = out.getvalue().rsplit(": ", 1)[1].strip()
    assert request_token(ms_admin, resource=DOCTORS).status_code == 401
    renewed = type(ms_admin)(client=ms_admin.client, client_secret=new_secret)
    fresh = request_token(renewed, resource=DOCTORS)
    assert fresh.status_code == 200
    assert introspect(post_as, doctor_gateway, held) == {"active": False}


@pytest.mark.django_db
def test_the_portal_button_revokes_every_token_and_disables_the_client(
    admin_client, post_as, token_for, ms_admin, doctor_gateway
):
    held = token_for(ms_admin)
    response = admin_client.post(
        f"/clients/{ms_admin.client.pk}/revoke-tokens/", {"then": "disable"}, follow=True
    )
    assert "Revoked every token" in response.content.decode()
    assert introspect(post_as, doctor_gateway, held) == {"active": False}
    row = AuditEvent.objects.get(event="revocation.recorded")
    assert (row.actor, row.details["via"], row.details["then"]) == ("alice-admin", "portal", "disable")
    assert row.request_id


@pytest.mark.django_db
def test_the_portal_revokes_one_token_by_jti(admin_client, post_as, token_for, ms_admin, doctor_gateway):
    revoked, kept = token_for(ms_admin), token_for(ms_admin)
    admin_client.post(f"/clients/{ms_admin.client.pk}/revoke-token/", {"jti": jti_of(revoked)})
    assert introspect(post_as, doctor_gateway, revoked) == {"active": False}
    assert introspect(post_as, doctor_gateway, kept)["active"] is True


@pytest.mark.django_db
def test_the_revocation_list_is_signed_cacheable_and_revalidates(
    client, post_as, token_for, ms_admin, settings
):
    token = token_for(ms_admin)
    post_as("/o/revoke", ms_admin, token=token)
    response = client.get("/.well-known/revocation-list")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jwt"
    assert response["Cache-Control"] == f"public, max-age={settings.AUTHPORTAL_REVOCATION_LIST_MAX_AGE}"
    document = response.content.decode()
    header = jwt.get_unverified_header(document)
    assert header["typ"] == "revocation-list+jwt"
    keys = {jwk["kid"]: jwt.PyJWK(jwk) for jwk in jwks_build(now=timezone.now())["keys"]}
    claims = jwt.decode(
        document, keys[header["kid"]].key, algorithms=["RS256"], issuer=settings.AUTHPORTAL_ISSUER
    )
    assert claims["revoked_jtis"] == {
        jti_of(token): jwt.decode(token, options={"verify_signature": False})["exp"]
    }
    again = client.get("/.well-known/revocation-list", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    assert metadata["revocation_list_uri"].endswith("/.well-known/revocation-list")
    assert metadata["revocation_endpoint"].endswith("/o/revoke")


@pytest.mark.django_db
def test_revocations_are_kept_until_their_tokens_expire_then_purged(
    post_as, token_for, ms_admin, ms_reports, settings
):
    post_as("/o/revoke", ms_admin, token=token_for(ms_admin))
    call_command("revoke_tokens", "--client", "ms_reports", stdout=StringIO())
    now = timezone.now()
    assert revocations_purge(now=now) == 0
    assert revocations_purge(now=now + timezone.timedelta(seconds=601)) == 1  # the token's exp
    assert RevokedToken.objects.count() == 0 and ClientTokensRevocation.objects.count() == 1
    assert (
        revocations_purge(now=now + timezone.timedelta(seconds=settings.AUTHPORTAL_TOKEN_LIFETIME_MAX + 2))
        == 1
    )


@pytest.mark.django_db
def test_a_key_client_revokes_its_token_with_an_assertion(client, ms_doctor, doctor_gateway, post_as):
    from urllib.parse import urlencode

    from tests.oauth.assertion_keys import ASSERTION_TYPE, assertion, key_client, new_key

    key = new_key()
    keyed = key_client("ms_keyed", key, "ms_doctor:doctors:read")

    def post(path: str, **params):
        body = {
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(keyed.client_id, key),
            **params,
        }
        return client.post(path, data=urlencode(body), content_type="application/x-www-form-urlencoded")

    token = post("/o/token", grant_type="client_credentials").json()["access_token"]
    assert post("/o/revoke", token=token).status_code == 200
    assert introspect(post_as, doctor_gateway, token) == {"active": False}


class ShiftedClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.mark.django_db(transaction=True)
def test_the_sdk_verifier_refuses_a_revoked_token_within_the_lists_max_age(
    live_server, settings, ms_admin, ms_reports
):
    settings.AUTHPORTAL_ISSUER = live_server.url
    settings.AUTHPORTAL_REVOCATION_LIST_MAX_AGE = 60
    clock = ShiftedClock()
    verifier = Verifier(live_server.url, DOCTORS, clock=clock)
    admin = TokenClient(live_server.url, ms_admin.client.client_id, ms_admin.client_secret)
    revoked = admin.get_token(resource=DOCTORS)
    others = TokenClient(live_server.url, ms_reports.client.client_id, ms_reports.client_secret).get_token(
        resource=DOCTORS
    )
    assert verifier.verify(revoked).client_id == ms_admin.client.client_id  # the list is loaded now
    call_command("revoke_tokens", "--jti", jti_of(revoked), stdout=StringIO())
    assert verifier.verify(revoked)  # its cached list is still fresh: a revocation takes up to max-age
    clock.offset = 61
    with pytest.raises(InvalidToken, match="revoked"):
        verifier.verify(revoked)
    assert verifier.verify(others).client_id == ms_reports.client.client_id
    # The compromised-client path reaches it the same way.
    call_command("revoke_tokens", "--client", "ms_reports", stdout=StringIO())
    clock.offset = 122
    with pytest.raises(InvalidToken, match="revoked"):
        verifier.verify(others)
    assert verifier.revocations is not None and verifier.revocations.fetches == 3
