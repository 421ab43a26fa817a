"""The request log: one line per protocol request with its request id, client id, outcome and timing;
JSON lines when asked for, plain text by default; never a secret, a token or an assertion."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest
import requests

from keys.services import signing_key_active
from tests.servers import ROOT, granian_serving, server_environment

DOCTORS = "https://doctors.internal"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
ASSERTION = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJtc19hZG1pbiJ9.c2lnbmF0dXJlLXRoYXQtbXVzdC1uZXZlci1iZS1sb2dnZWQ"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.mark.django_db(transaction=True)
def test_every_protocol_request_has_a_json_line_and_no_line_holds_a_secret(tmp_path, ms_admin):
    signing_key_active()
    client_id, secret = ms_admin.client.client_id, ms_admin.client_secret
    log = tmp_path / "granian.log"
    extra = {"LOG_LEVEL": "INFO", "AUTHPORTAL_LOG_FORMAT": "json"}
    with granian_serving(env=server_environment(tmp_path), log=log, extra_env=extra) as port:
        url = f"http://127.0.0.1:{port}"

        def post(request_id: str, data: dict[str, str], auth: str | None = None) -> requests.Response:
            headers = {"X-Request-ID": request_id, **({"Authorization": auth} if auth else {})}
            return requests.post(f"{url}/o/token", data=data, headers=headers, timeout=10)

        issued = post(
            "req-issued", {"grant_type": "client_credentials", "resource": DOCTORS}, basic(client_id, secret)
        )
        token = issued.json()["access_token"]
        sent = {
            "req-post": post(
                "req-post",
                {
                    "grant_type": "client_credentials",
                    "client_id": client_id,
                    "client_secret": secret,
                    "resource": DOCTORS,
                },
            ),
            "req-wrong": post(
                "req-wrong", {"grant_type": "client_credentials"}, basic(client_id, "wrong-secret-xyz")
            ),
            "req-scope": post(
                "req-scope",
                {"grant_type": "client_credentials", "scope": "doctors:write"},
                basic(client_id, secret),
            ),
            "req-exchange": post(
                "req-exchange",
                {
                    "grant_type": EXCHANGE,
                    "subject_token": token,
                    "subject_token_type": ACCESS_TOKEN_TYPE,
                    "resource": DOCTORS,
                },
                basic(client_id, secret),
            ),
            "req-assertion": post(
                "req-assertion",
                {
                    "grant_type": "client_credentials",
                    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    "client_assertion": ASSERTION,
                },
            ),
            "req-jwks": requests.get(
                f"{url}/.well-known/jwks.json", headers={"X-Request-ID": "req-jwks"}, timeout=10
            ),
        }
    text = log.read_text()
    for secret_text in (secret, "wrong-secret-xyz", token, token.split(".")[2], ASSERTION):
        assert secret_text not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    by_id = {line["request_id"]: line for line in lines if line.get("logger") == "authportal.requests"}
    assert by_id["req-issued"]["outcome"] == "issued" and by_id["req-issued"]["client_id"] == client_id
    assert by_id["req-post"]["outcome"] == "issued"
    assert (by_id["req-wrong"]["outcome"], by_id["req-wrong"]["client_id"]) == ("invalid_client", "")
    assert (by_id["req-scope"]["outcome"], by_id["req-scope"]["client_id"]) == ("invalid_scope", client_id)
    assert by_id["req-exchange"]["outcome"] == sent["req-exchange"].json()["error"]
    assert by_id["req-assertion"]["status"] == sent["req-assertion"].status_code
    assert by_id["req-jwks"]["outcome"] == "ok" and by_id["req-jwks"]["path"] == "/.well-known/jwks.json"
    for request_id, line in by_id.items():
        assert line["status"] == sent.get(request_id, issued).status_code
        assert line["level"] == "INFO" and line["method"] in ("GET", "POST")
        assert 0 < line["duration_ms"] < 10_000
        assert line["time"] and line["remote_addr"] == "127.0.0.1"


@pytest.mark.parametrize(("log_format", "json_lines"), [(None, False), ("json", True)])
def test_log_lines_are_plain_text_unless_json_is_asked_for(tmp_path, log_format, json_lines, db):
    env = server_environment(tmp_path)
    env.pop("AUTHPORTAL_LOG_FORMAT", None)
    if log_format:
        env["AUTHPORTAL_LOG_FORMAT"] = log_format
    code = (
        "import django, logging, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'authportal.settings'; django.setup(); "
        "logging.getLogger('authportal.requests').warning('a line', extra={'request_id': 'r-1'})"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    line = done.stderr.strip().splitlines()[-1]
    if json_lines:
        assert json.loads(line)["request_id"] == "r-1"
    else:
        assert line.endswith("WARNING authportal.requests a line") and not line.startswith("{")
