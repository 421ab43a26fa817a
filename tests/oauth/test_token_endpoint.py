"""/o/token: client_credentials in, an RFC 9068 JWT out, RFC 6749 errors for everything else."""

from __future__ import annotations

import json
import re
from io import StringIO
from urllib.parse import urlencode

import jwt
import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from clients.hashers import ClientSecretHasher
from clients.models import Client
from tests.conftest import basic_auth, pyjwt_decode

DOCTORS = "https://doctors.internal"
COLLEGE = "https://college.internal"


def assert_oauth_error(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]
    return body


def test_client_credentials_returns_a_bearer_jwt_without_refresh_token(request_token, ms_admin):
    response = request_token(ms_admin, resource=DOCTORS)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    assert body["scope"] == "doctors:read"


def test_token_is_rfc9068_with_the_client_as_subject(client, request_token, ms_admin):
    token = request_token(ms_admin, resource=DOCTORS).json()["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    assert header["kid"]
    claims = pyjwt_decode(client, token, DOCTORS)
    client_id = ms_admin.client.client_id
    assert claims["sub"] == client_id
    assert claims["client_id"] == client_id
    assert claims["aud"] == DOCTORS  # one audience: a string, not a list
    assert claims["scope"] == "doctors:read"
    assert claims["exp"] - claims["iat"] == 600


def test_two_audiences_give_an_aud_array(client, request_token, ms_admin):
    token = request_token(ms_admin, resource=[DOCTORS, COLLEGE]).json()["access_token"]
    claims = pyjwt_decode(client, token, DOCTORS)
    assert claims["aud"] == [DOCTORS, COLLEGE]
    assert claims["scope"] == "doctors:read college:read"


def test_every_token_has_its_own_jti(client, request_token, ms_admin):
    tokens = [request_token(ms_admin, resource=DOCTORS).json()["access_token"] for _ in range(3)]
    assert len({pyjwt_decode(client, t, DOCTORS)["jti"] for t in tokens}) == 3


def test_client_secret_post_works_too(request_token, ms_admin):
    response = request_token(ms_admin, auth="post", scope="college:read")
    assert response.status_code == 200
    assert response.json()["scope"] == "college:read"


@pytest.mark.parametrize("refused", [False, True], ids=["accepted", "refused"])
def test_a_token_request_in_the_body_is_read_once_for_the_limits_and_the_view(
    request_token, ms_admin, monkeypatch, refused
):
    import oauth.requests

    read = oauth.requests._token_request_read
    reads = []

    def counted(request):
        reads.append(1)
        return read(request)

    monkeypatch.setattr(oauth.requests, "_token_request_read", counted)
    params = {"scope": "doctors:read"} if not refused else {"scope": "doctors:read", "grant_type": ""}
    response = request_token(ms_admin, auth="post", **params)
    assert response.status_code == (400 if refused else 200)
    assert reads == [1]


def test_per_client_lifetime_sets_exp(client, request_token, ms_admin):
    Client.objects.filter(pk=ms_admin.client.pk).update(access_token_lifetime=120)
    response = request_token(ms_admin, resource=DOCTORS)
    assert response.json()["expires_in"] == 120
    claims = pyjwt_decode(client, response.json()["access_token"], DOCTORS)
    assert claims["exp"] - claims["iat"] == 120


def test_both_authentication_methods_at_once_is_invalid_request(post_body, ms_admin):
    response = post_body(
        ms_admin,
        f"grant_type=client_credentials&client_id={ms_admin.client.client_id}&client_secret={ms_admin.client_secret}",
    )
    assert_oauth_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    "case",
    ["wrong secret", "unknown client", "disabled client", "no credentials", "bearer scheme", "garbage basic"],
)
def test_failed_client_authentication_is_401_invalid_client_with_basic_challenge(
    client, request_token, ms_admin, case
):
    headers = {}
    registered = ms_admin
    if case == "wrong secret":
        headers["HTTP_AUTHORIZATION"] = basic_auth(ms_admin.client.client_id, "x" * 43)
        registered = None
    elif case == "unknown client":
        headers["HTTP_AUTHORIZATION"] = basic_auth("nobody", ms_admin.client_secret)
        registered = None
    elif case == "disabled client":
        Client.objects.filter(pk=ms_admin.client.pk).update(enabled=False)
    elif case == "no credentials":
        registered = None
    elif case == "bearer scheme":
        headers["HTTP_AUTHORIZATION"] = "Bearer abc"
        registered = None
    elif case == "garbage basic":
        headers["HTTP_AUTHORIZATION"] = "Basic !!!not-base64"
        registered = None
    response = request_token(registered, headers=headers, resource=DOCTORS)
    assert_oauth_error(response, 401, "invalid_client")
    assert response["WWW-Authenticate"].startswith("Basic")


def test_unknown_client_id_costs_a_secret_check_like_a_wrong_secret(request_token, ms_admin, monkeypatch):
    checks = []
    original = ClientSecretHasher.verify
    monkeypatch.setattr(ClientSecretHasher, "verify", lambda self, *a: checks.append(1) or original(self, *a))
    request_token(None, headers={"HTTP_AUTHORIZATION": basic_auth("nobody", "x")})
    request_token(None, headers={"HTTP_AUTHORIZATION": basic_auth(ms_admin.client.client_id, "x")})
    assert checks == [1, 1]


def test_unknown_grant_type_is_unsupported_grant_type(request_token, ms_admin):
    assert_oauth_error(request_token(ms_admin, grant_type="password"), 400, "unsupported_grant_type")


def test_missing_grant_type_is_invalid_request(post_body, ms_admin):
    response = post_body(ms_admin, "scope=doctors%3Aread")
    assert_oauth_error(response, 400, "invalid_request")


def test_scope_not_granted_is_invalid_scope(request_token, ms_admin):
    assert_oauth_error(request_token(ms_admin, scope="doctors:write"), 400, "invalid_scope")


def test_unknown_resource_is_invalid_target(request_token, ms_admin):
    assert_oauth_error(request_token(ms_admin, resource="https://orders.internal"), 400, "invalid_target")


def test_resource_with_fragment_is_invalid_target(request_token, ms_admin):
    assert_oauth_error(request_token(ms_admin, resource="https://doctors.internal#x"), 400, "invalid_target")


HOSTILE_URIS = [
    "https://[::1",
    "https://[zz]/",
    "http://]x",
    "https://a\uff03b.internal",  # FULLWIDTH NUMBER SIGN: a '#' once NFKC-normalized
    "https://a\u2100b",  # ACCOUNT OF: 'a/c' once NFKC-normalized
    "https://doctors.internal:port",
    "https://doctors.internal:99999",
]


@pytest.mark.parametrize("resource", HOSTILE_URIS)
def test_a_resource_that_is_no_uri_at_all_is_invalid_target_and_audited(request_token, ms_admin, resource):
    assert_oauth_error(request_token(ms_admin, resource=resource), 400, "invalid_target")
    assert AuditEvent.objects.get(event="token.denied").details["error"] == "invalid_target"


def test_grants_on_several_services_and_no_resource_asks_for_one(request_token, ms_admin):
    body = assert_oauth_error(request_token(ms_admin), 400, "invalid_target")
    assert "resource" in body["error_description"]


def test_grants_on_one_service_and_nothing_asked_gets_them_all(request_token, ms_reports):
    response = request_token(ms_reports)
    assert response.status_code == 200
    assert response.json()["scope"] == "doctors:read doctors:write"


def test_empty_parameters_count_as_omitted(request_token, ms_reports):
    response = request_token(ms_reports, scope="", resource="")
    assert response.status_code == 200


@pytest.mark.parametrize("name", ["grant_type", "scope", "client_id", "client_secret"])
def test_a_parameter_given_twice_is_invalid_request(client, ms_admin, name):
    params = {
        "grant_type": "client_credentials",
        "scope": "doctors:read",
        "client_id": ms_admin.client.client_id,
        "client_secret": ms_admin.client_secret,
    }
    body = "&".join(f"{k}={v}" for k, v in params.items()) + f"&{name}={params[name]}"
    response = client.post("/o/token", data=body, content_type="application/x-www-form-urlencoded")
    assert_oauth_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", json.dumps({"grant_type": "client_credentials"})),
        (
            "multipart/form-data; boundary=xx",
            '--xx\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--xx--',
        ),
        ("text/plain", "grant_type=client_credentials"),
        ("", "grant_type=client_credentials"),
        ("application/x-www-form-urlencoded; charset=latin-1", "grant_type=client_credentials"),
    ],
)
def test_bodies_that_are_not_utf8_forms_are_415(post_body, ms_admin, content_type, body):
    response = post_body(ms_admin, body, content_type=content_type)
    assert_oauth_error(response, 415, "invalid_request")


def test_a_body_over_the_cap_is_413(post_body, ms_admin):
    body = "grant_type=client_credentials&padding=" + "a" * 5000
    response = post_body(ms_admin, body)
    assert_oauth_error(response, 413, "invalid_request")


def test_parameters_in_the_url_are_refused(client, ms_admin):
    response = client.post(
        f"/o/token?client_secret={ms_admin.client_secret}",
        data="grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_get_is_405_with_allow_post(client, db):
    response = client.get("/o/token")
    assert_oauth_error(response, 405, "invalid_request")
    assert response["Allow"] == "POST"


def test_trailing_slash_works_without_redirect(post_body, ms_admin):
    response = post_body(
        ms_admin, "grant_type=client_credentials&resource=https%3A%2F%2Fdoctors.internal", path="/o/token/"
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe\x00garbage",
        b"grant_type=%ff%fe",
        b"=" * 100,
        b"&&&&&" * 100,
        b"client_id=%00&client_secret=x&grant_type=client_credentials",
        b"client_id=" + b"a" * 300 + b"&client_secret=x&grant_type=client_credentials",
        b"client_id=a\x01b&client_secret=x&grant_type=client_credentials",
        b"grant_type=client_credentials&scope=%22bad%5C&client_id=a&client_secret=b",
        b"a=1&" * 70,
    ],
)
def test_hostile_bodies_get_rfc6749_json_never_a_500(client, db, body):
    response = client.post("/o/token", data=body, content_type="application/x-www-form-urlencoded")
    assert 400 <= response.status_code < 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] in {"invalid_request", "invalid_client", "invalid_scope"}


def test_unknown_paths_under_o_answer_json(client, db):
    response = client.post("/o/authorize")
    assert response.status_code == 404
    assert response.json()["error"] == "invalid_request"


def test_issuance_writes_one_audit_row_with_the_tokens_jti(client, request_token, ms_admin):
    token = request_token(ms_admin, resource=DOCTORS, HTTP_X_REQUEST_ID="req-42").json()["access_token"]
    claims = pyjwt_decode(client, token, DOCTORS)
    rows = AuditEvent.objects.filter(event="token.issued")
    assert rows.count() == 1
    row = rows.get()
    assert row.details["jti"] == claims["jti"]
    assert row.details["audiences"] == [DOCTORS]
    assert row.details["scopes"] == ["doctors:read"]
    assert row.details["kid"] == jwt.get_unverified_header(token)["kid"]
    assert row.details["exp"] == claims["exp"]
    assert row.actor == ms_admin.client.client_id
    assert row.remote_addr == "127.0.0.1"


def test_request_id_is_taken_from_the_caller_and_recorded(post_body, ms_admin):
    response = post_body(
        ms_admin,
        "grant_type=client_credentials&resource=https%3A%2F%2Fdoctors.internal",
        HTTP_X_REQUEST_ID="req-42",
    )
    assert response["X-Request-ID"] == "req-42"
    assert AuditEvent.objects.get(event="token.issued").request_id == "req-42"


def test_a_denial_is_audited_with_the_presented_client_id_and_reason(request_token, ms_admin):
    request_token(None, headers={"HTTP_AUTHORIZATION": basic_auth(ms_admin.client.client_id, "wrong")})
    row = AuditEvent.objects.get(event="token.denied")
    assert row.outcome == "failure"
    assert row.actor == ms_admin.client.client_id
    assert row.details == {"error": "invalid_client", "reason": "wrong client secret"}


def test_no_secret_or_token_ever_lands_in_the_audit_log(request_token, ms_admin):
    token = request_token(ms_admin, resource=DOCTORS).json()["access_token"]
    request_token(ms_admin, auth="post", scope="doctors:write")
    dump = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert ms_admin.client_secret not in dump
    assert token not in dump
    assert token.split(".")[2] not in dump


@pytest.mark.parametrize("auth", ["basic", "post"])
def test_a_client_that_swaps_its_id_and_secret_never_gets_its_secret_into_the_audit_log(
    client, ms_admin, auth, tmp_path
):
    secret, client_id = ms_admin.client_secret, ms_admin.client.client_id
    for _ in range(2):
        if auth == "basic":
            response = client.post(
                "/o/token",
                data="grant_type=client_credentials",
                content_type="application/x-www-form-urlencoded",
                HTTP_AUTHORIZATION=basic_auth(secret, client_id),
            )
        else:
            response = client.post(
                "/o/token",
                data=urlencode(
                    {"grant_type": "client_credentials", "client_id": secret, "client_secret": client_id}
                ),
                content_type="application/x-www-form-urlencoded",
            )
        assert_oauth_error(response, 401, "invalid_client")
    first, second = AuditEvent.objects.filter(event="token.denied").order_by("id")
    # A keyed fingerprint of what was presented: repeated attempts group, the secret cannot be checked offline.
    assert re.fullmatch(r"unregistered:[0-9a-f]{16}", first.actor)
    assert first.subject == f"client:{first.actor}"
    assert (second.actor, second.subject) == (first.actor, first.subject)
    assert first.actor[len("unregistered:") :] not in secret
    dump = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert secret not in dump
    for fmt in ("csv", "jsonl", "json"):
        target = tmp_path / f"audit.{fmt}"
        call_command("export_audit", "--format", fmt, "--output", str(target), stderr=StringIO())
        assert secret not in target.read_text()


def test_an_unregistered_client_id_is_stored_as_a_fingerprint_and_a_registered_one_as_is(
    request_token, ms_admin
):
    request_token(None, headers={"HTTP_AUTHORIZATION": basic_auth("nobody", "x")})
    request_token(None, headers={"HTTP_AUTHORIZATION": basic_auth("somebody-else", "x")})
    request_token(None, headers={"HTTP_AUTHORIZATION": basic_auth(ms_admin.client.client_id, "x")})
    nobody, somebody, registered = AuditEvent.objects.filter(event="token.denied").order_by("id")
    assert nobody.actor.startswith("unregistered:") and somebody.actor.startswith("unregistered:")
    assert nobody.actor != somebody.actor
    assert "nobody" not in nobody.actor + nobody.subject
    assert (registered.actor, registered.subject) == (
        ms_admin.client.client_id,
        f"client:{ms_admin.client.client_id}",
    )


@pytest.mark.parametrize(
    "params",
    [{"scope": "{secret}"}, {"resource": "https://doctors.internal/{secret}"}, {"resource": "urn:{secret}"}],
)
def test_a_secret_sent_where_a_scope_or_resource_belongs_is_kept_out_of_the_audit_log(
    request_token, ms_admin, params
):
    secret = ms_admin.client_secret
    response = request_token(ms_admin, **{k: v.format(secret=secret) for k, v in params.items()})
    assert response.status_code == 400
    assert secret not in response.json()["error_description"]
    row = AuditEvent.objects.get(event="token.denied")
    assert "[client_secret]" in row.details["reason"]
    assert secret not in json.dumps(list(AuditEvent.objects.values()), default=str)


def test_an_unknown_host_still_gets_json(client, db):
    response = client.post(
        "/o/token",
        data="grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        HTTP_HOST="evil.example",
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_a_key_that_cannot_be_decrypted_answers_503_not_500(request_token, ms_admin, settings):
    request_token(ms_admin, resource=DOCTORS)  # creates the key under the current KEK
    from keys.tokens import signer_cache_clear

    signer_cache_clear()
    settings.AUTHPORTAL_KEK = "0" * 43 + "="
    response = request_token(ms_admin, resource=DOCTORS)
    assert_oauth_error(response, 503, "temporarily_unavailable")
    assert AuditEvent.objects.filter(event="token.issued").count() == 1
