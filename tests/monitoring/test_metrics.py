"""/metrics: Prometheus' text format, parsed by prometheus_client's own parser after real requests
through the production server (2 granian workers, multiprocess mode), and never public."""

from __future__ import annotations

import base64

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from audit.sealing import audit_seal
from keys.services import signer_ready, signing_key_active
from tests.servers import granian_serving, server_environment

DOCTORS = "https://doctors.internal"
TOKEN = "scrape-me-" + "x" * 32


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.mark.django_db(transaction=True)
def test_every_series_counts_what_the_server_answered_across_its_workers(tmp_path, ms_admin):
    signing_key_active()
    audit_seal(signer=signer_ready())
    client_id, secret = ms_admin.client.client_id, ms_admin.client_secret
    extra = {"AUTHPORTAL_METRICS_TOKEN": TOKEN, "AUTHPORTAL_THROTTLE_CLIENT_FAILURES": "2"}
    with granian_serving(
        env=server_environment(tmp_path), log=tmp_path / "granian.log", workers=2, extra_env=extra
    ) as port:
        url = f"http://127.0.0.1:{port}"

        def token(secret_used: str, **params: str) -> int:
            # A connection each, so that the two workers share the requests.
            return requests.post(
                f"{url}/o/token",
                data={"grant_type": "client_credentials", **params},
                headers={"Authorization": basic(client_id, secret_used), "Connection": "close"},
                timeout=10,
            ).status_code

        def scrape() -> requests.Response:
            return requests.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)

        # Warm up each worker (its first token loads the key and the client; on a busy machine that may
        # overrun the 1 s deadline); then every figure is the difference between two scrapes.
        for _ in range(6):
            token(secret, resource=DOCTORS)
        before = samples(scrape().text)
        assert [token(secret, resource=DOCTORS) for _ in range(3)] == [200, 200, 200]
        assert token(secret, scope="doctors:write") == 400  # not granted: invalid_scope, after authenticating
        # Each worker counts failures in its own memory (no Redis here): 2 each, then 429s.
        wrong = [token("wrong") for _ in range(6)]
        assert set(wrong) == {401, 429} and 2 <= wrong.count(401) <= 4, wrong
        for _ in range(2):
            assert requests.get(
                f"{url}/.well-known/jwks.json", headers={"Connection": "close"}, timeout=10
            ).ok
        assert requests.get(f"{url}/metrics", timeout=10).status_code == 403
        scraped = scrape()
    assert scraped.status_code == 200
    assert scraped.headers["Content-Type"].startswith("text/plain; version=")
    after = samples(scraped.text)

    def value(name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return after.get(key, 0.0) - before.get(key, 0.0)

    def gauge(name: str) -> float:
        return after[(name, frozenset())]

    issued = {"client": client_id, "audience": DOCTORS, "grant": "client_credentials"}
    assert value("authportal_tokens_issued_total", **issued) == 3
    assert value("authportal_tokens_refused_total", client=client_id, error="invalid_scope") == 1
    assert value("authportal_tokens_refused_total", client="", error="invalid_client") == wrong.count(401)
    assert value("authportal_tokens_throttled_total", limit="client_failures") == wrong.count(429)
    assert value("authportal_requests_total", endpoint="oauth:jwks", status="200") == 2
    assert value("authportal_requests_total", endpoint="oauth:token", status="429") == wrong.count(429)
    assert value("authportal_request_duration_seconds_count", endpoint="oauth:token") == 10
    assert value("authportal_request_duration_seconds_bucket", endpoint="oauth:token", le="+Inf") == 10
    # Three token.issued rows, one token.denied for the invalid_scope and one for each 401.
    assert value("authportal_audit_commit_seconds_count") == 4 + wrong.count(401)
    assert 0 < value("authportal_audit_commit_seconds_sum") < 6
    assert 0 <= gauge("authportal_signing_key_age_seconds") < 600
    assert 29 * 86400 < gauge("authportal_signing_key_next_rotation_seconds") <= 30 * 86400
    assert 0 < gauge("authportal_audit_seal_lag_seconds") < 600  # the requests' rows wait for beat
    assert client_id not in scraped.text.replace(f'client="{client_id}"', "")  # only ever as a label


@pytest.fixture
def metrics_get(client):
    def get(**headers: str):
        return client.get("/metrics", **headers)

    return get


def test_metrics_are_refused_to_anyone_when_neither_a_token_nor_addresses_are_set(metrics_get, db):
    assert metrics_get().status_code == 403


def test_metrics_want_the_exact_bearer_token(metrics_get, settings, db):
    settings.AUTHPORTAL_METRICS_TOKEN = TOKEN
    assert metrics_get(HTTP_AUTHORIZATION=f"Bearer {TOKEN}x").status_code == 403
    assert metrics_get(HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 403
    answer = metrics_get(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert answer.status_code == 200
    assert "authportal_requests_total" in answer.content.decode()


def test_metrics_are_served_to_an_allowed_address_as_trusted_proxies_report_it(metrics_get, settings, db):
    settings.AUTHPORTAL_METRICS_ALLOW = ["10.20.0.0/16"]
    settings.AUTHPORTAL_TRUSTED_PROXIES = ["192.0.2.1"]
    assert metrics_get(REMOTE_ADDR="10.20.3.4").status_code == 200
    assert metrics_get(REMOTE_ADDR="10.21.3.4").status_code == 403
    assert metrics_get(REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="10.20.9.9").status_code == 200
    assert metrics_get(REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR="10.20.9.9").status_code == 403


def test_the_grafana_dashboard_charts_only_series_we_export(
    metrics_get, settings, db, ms_admin, request_token
):
    import json
    import re
    from pathlib import Path

    signing_key_active()
    request_token(ms_admin, resource=DOCTORS)
    settings.AUTHPORTAL_METRICS_TOKEN = TOKEN
    exported = {
        family.name
        for family in text_string_to_metric_families(
            metrics_get(HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
        )
    }
    dashboard = json.loads((Path(__file__).parents[2] / "docs" / "grafana-dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    charted = {
        re.sub(r"_(total|bucket|count|sum)$", "", name)
        for e in expressions
        for name in re.findall(r"authportal_[a-z_]+", e)
    }
    assert charted and charted <= exported, charted - exported
