"""/healthz and /readyz as a load balancer sees them: JSON, cheap, and unready for each reason."""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.recording import audit_record
from audit.sealing import audit_seal
from keys.models import SigningKey
from keys.services import signer_ready, signing_key_active
from keys.tokens import signer_cache_clear
from tests.keys.servers import closed_port_url

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_touching_the_database(client):
    with CaptureQueriesContext(connection) as queries:
        answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}
    assert answer["Cache-Control"] == "no-store"
    assert len(queries) == 0


def test_readyz_is_ready_with_the_database_the_key_a_fresh_seal_and_the_broker(client):
    signing_key_active()
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["status"] == "ready"
    assert {name for name, check in body["checks"].items() if check["ok"]} == set(body["checks"])
    assert {"database", "signing_key", "audit_seal"} <= set(body["checks"])
    with CaptureQueriesContext(connection) as queries:
        client.get("/readyz")
    assert len(queries) <= 4, [q["sql"] for q in queries]  # cheap enough for a probe every second


def test_readyz_is_unready_without_an_active_key_and_creates_none(client):
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["signing_key"] == {
        "ok": False,
        "detail": "no active signing key",
        "ms": answer.json()["checks"]["signing_key"]["ms"],
    }
    assert not SigningKey.objects.exists()


def test_readyz_is_unready_when_the_active_key_cannot_be_decrypted(client, settings):
    signing_key_active()
    signer_cache_clear()
    settings.AUTHPORTAL_KEK = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert (
        answer.json()["checks"]["signing_key"]["detail"]
        == "the active key cannot be decrypted (AUTHPORTAL_KEK?)"
    )


def test_readyz_is_unready_while_an_event_waits_too_long_for_its_seal(client, settings):
    signing_key_active()
    audit_seal(signer=signer_ready())
    audit_record(event="portal.login", actor="x", occurred_at=timezone.now() - timedelta(minutes=11))
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["audit_seal"]["ok"] is False
    assert "at most 600 s" in answer.json()["checks"]["audit_seal"]["detail"]
    audit_seal(signer=signer_ready())
    assert client.get("/readyz").status_code == 200


def test_readyz_is_unready_when_the_configured_broker_does_not_answer(client, settings):
    signing_key_active()
    settings.REDIS_URL = closed_port_url()
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["broker"]["ok"] is False
