"""The admin API through the real endpoints: real tokens from /o/token, the same service functions and
audit rows as the portal, every error as problem details."""

from __future__ import annotations

import jwt
import pytest
from django.utils import timezone

from api.services import API_SERVICE_NAME, api_audience
from audit.actor import SYSTEM
from audit.models import AuditEvent
from clients.models import Client, DelegationEdge, Service, TrustedIssuer
from clients.selectors import AuthenticatedClient, client_authenticate
from keys.models import SigningKey
from revocation.services import token_revoke_by_jti
from tests.api.conftest import ci_client_with

pytestmark = pytest.mark.django_db

SERVICE = {
    "name": "ms_billing",
    "audience": "https://billing.internal",
    "scopes": [{"name": "billing:read"}, {"name": "billing:write", "description": "Charge"}],
}


def last_row(event: str) -> AuditEvent:
    return AuditEvent.objects.filter(event=event).order_by("-id").first()


def test_a_token_for_the_api_is_a_token_of_ours_for_its_audience(ci_admin, api_token, settings):
    token = api_token(ci_admin)
    jwks = {"keys": [key.public_jwk for key in SigningKey.objects.all()]}
    header = jwt.get_unverified_header(token)
    key = next(jwt.PyJWK(k) for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(
        token, key.key, algorithms=[header["alg"]], audience=api_audience(), issuer=settings.AUTHPORTAL_ISSUER
    )
    assert set(claims["scope"].split()) == {"admin:read", "admin:write", "audit:read"}


def test_a_service_is_registered_with_its_scopes_and_audit_rows_naming_the_client(as_ci, ci_admin):
    response = as_ci.post(
        "/api/v1/services/", SERVICE, content_type="application/json", HTTP_X_REQUEST_ID="req-svc-1"
    )
    assert response.status_code == 201, response.content
    assert response.json()["scopes"] == [
        {"name": "billing:read", "description": ""},
        {"name": "billing:write", "description": "Charge"},
    ]
    row = last_row("service.created")
    assert row.subject == "service:ms_billing"
    assert row.actor == ci_admin.client.client_id
    assert last_row("scope.created").actor == ci_admin.client.client_id


def test_a_change_row_carries_the_api_request_id(as_ci):
    as_ci.post("/api/v1/services/", SERVICE, content_type="application/json", HTTP_X_REQUEST_ID="req-svc-2")
    assert last_row("service.created").request_id == "req-svc-2"


def test_a_new_clients_secret_is_answered_once_and_never_again(as_ci, ci_admin):
    as_ci.post("/api/v1/services/", SERVICE, content_type="application/json")
    response = as_ci.post(
        "/api/v1/clients/",
        {"name": "billing-job", "grants": ["ms_billing:billing:read"]},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "no-store"
    created = response.json()
    secret, client_id = created["client_secret"], created["client_id"]
    assert isinstance(client_authenticate(client_id=client_id, client_secret=secret), AuthenticatedClient)
    assert created["client"]["grants"] == ["ms_billing:billing:read"]
    for url in ("/api/v1/clients/", f"/api/v1/clients/{client_id}/", f"/api/v1/clients/{client_id}/grants/"):
        assert secret not in as_ci.get(url).content.decode()
    assert not AuditEvent.objects.filter(details__icontains=secret).exists()
    row = last_row("client.created")
    assert (row.subject, row.actor) == (f"client:{client_id}", ci_admin.client.client_id)


def test_rotating_a_secret_answers_the_new_one_once_and_the_old_one_lapses(as_ci):
    created = as_ci.post("/api/v1/clients/", {"name": "rotating-job"}, content_type="application/json").json()
    client_id, old = created["client_id"], created["client_secret"]
    response = as_ci.post(
        f"/api/v1/clients/{client_id}/secret/",
        {"old_secret_valid_for_seconds": 0},
        content_type="application/json",
    )
    assert response.status_code == 201
    new = response.json()["client_secret"]
    assert new != old
    assert isinstance(client_authenticate(client_id=client_id, client_secret=new), AuthenticatedClient)
    assert not isinstance(client_authenticate(client_id=client_id, client_secret=old), AuthenticatedClient)
    assert new not in as_ci.get(f"/api/v1/clients/{client_id}/").content.decode()
    assert last_row("client.secret_rotated").subject == f"client:{client_id}"


def test_grants_are_added_and_removed_with_their_rows(as_ci):
    as_ci.post("/api/v1/services/", SERVICE, content_type="application/json")
    client_id = as_ci.post("/api/v1/clients/", {"name": "granted"}, content_type="application/json").json()[
        "client_id"
    ]
    response = as_ci.post(
        f"/api/v1/clients/{client_id}/grants/",
        {"scopes": ["billing:read", "billing:write"]},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert AuditEvent.objects.filter(event="grant.added", subject=f"client:{client_id}").count() == 2
    assert as_ci.delete(f"/api/v1/clients/{client_id}/grants/billing:write/").status_code == 204
    assert [g["scope"] for g in as_ci.get(f"/api/v1/clients/{client_id}/grants/").json()] == ["billing:read"]
    assert last_row("grant.removed").details["scope"] == "billing:write"


def test_a_client_is_disabled_then_deleted(as_ci):
    client_id = as_ci.post(
        "/api/v1/clients/", {"name": "short-lived"}, content_type="application/json"
    ).json()["client_id"]
    response = as_ci.patch(
        f"/api/v1/clients/{client_id}/", {"enabled": False}, content_type="application/json"
    )
    assert response.json()["enabled"] is False
    assert last_row("client.disabled").subject == f"client:{client_id}"
    assert as_ci.delete(f"/api/v1/clients/{client_id}/").status_code == 204
    assert not Client.objects.filter(client_id=client_id).exists()
    assert last_row("client.deleted").subject == f"client:{client_id}"


def test_edges_and_trusted_issuers(as_ci):
    as_ci.post("/api/v1/services/", SERVICE, content_type="application/json")
    as_ci.post(
        "/api/v1/services/",
        {"name": "ms_orders", "audience": "https://orders.internal", "scopes": [{"name": "orders:write"}]},
        content_type="application/json",
    )
    edge = {
        "from_service": "ms_orders",
        "to_service": "ms_billing",
        "scope_map": {"orders:write": ["billing:write"]},
    }
    assert as_ci.post("/api/v1/edges/", edge, content_type="application/json").status_code == 201
    assert last_row("edge.added").subject == "edge:ms_orders->ms_billing"
    response = as_ci.patch(
        "/api/v1/edges/ms_orders/ms_billing/", {"enabled": False}, content_type="application/json"
    )
    assert response.json()["enabled"] is False
    assert as_ci.delete("/api/v1/edges/ms_orders/ms_billing/").status_code == 204
    assert not DelegationEdge.objects.exists()

    issuer = {
        "issuer": "https://idp.example.com",
        "audience": "gateway",
        "jwks_uri": "https://idp.example.com/jwks",
    }
    response = as_ci.post("/api/v1/trusted-issuers/", issuer, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["slug"] == "idp-example-com"
    assert as_ci.delete("/api/v1/trusted-issuers/idp-example-com/").status_code == 204
    assert not TrustedIssuer.objects.exists()
    assert last_row("issuer.removed").subject == "issuer:idp-example-com"


def test_keys_are_listed_rotated_and_revoked(as_ci):
    active = SigningKey.objects.get(state="active")
    keys = as_ci.get("/api/v1/keys/").json()["results"]
    assert "private_key_encrypted" not in keys[0] and "d" not in keys[0]["public_jwk"]
    response = as_ci.post(
        "/api/v1/keys/rotate/", {"expected_active_kid": active.kid}, content_type="application/json"
    )
    assert response.status_code == 201
    again = as_ci.post(
        "/api/v1/keys/rotate/", {"expected_active_kid": active.kid}, content_type="application/json"
    )
    assert again.status_code == 409
    assert again["Content-Type"] == "application/problem+json"
    wrong = as_ci.post(
        f"/api/v1/keys/{active.kid}/revoke/", {"kid": "another"}, content_type="application/json"
    )
    assert wrong.status_code == 400
    response = as_ci.post(
        f"/api/v1/keys/{active.kid}/revoke/", {"kid": active.kid}, content_type="application/json"
    )
    assert response.json()["state"] == "revoked"
    assert last_row("key.revoked").subject == f"key:{active.kid}"


def test_a_service_functions_refusal_is_a_problem_naming_the_field(as_ci):
    as_ci.post("/api/v1/services/", SERVICE, content_type="application/json")
    response = as_ci.post(
        "/api/v1/services/", {**SERVICE, "name": "Bad Name"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400 and problem["title"] == "Bad Request"
    fields = {error["field"] for error in problem["errors"]}
    assert "name" in fields or "scopes" in fields


def test_audit_search_pages_by_keyset_with_the_portals_filters(as_ci):
    for n in range(5):
        as_ci.post("/api/v1/clients/", {"name": f"paged-{n}"}, content_type="application/json")
    page = as_ci.get("/api/v1/audit/events/", {"event": "client.created", "limit": 2}).json()
    names = [row["details"]["name"] for row in page["results"]]
    while page["next"]:
        page = as_ci.get(page["next"]).json()
        names += [row["details"]["name"] for row in page["results"]]
    assert names == [f"paged-{n}" for n in reversed(range(5))] + ["ci-admin"]
    bad = as_ci.get("/api/v1/audit/events/", {"since": "yesterday"})
    assert bad.status_code == 400 and "since" in bad.json()["detail"]


def test_audit_export_streams_and_is_itself_audited(as_ci, ci_admin):
    response = as_ci.get(
        "/api/v1/audit/export/", {"format": "jsonl", "event": "client.*"}, HTTP_X_REQUEST_ID="req-export"
    )
    assert response.status_code == 200 and response.streaming
    body = b"".join(response.streaming_content).decode()
    assert '"client.created"' in body
    row = last_row("audit.exported")
    assert (row.actor, row.request_id, row.details["completed"]) == (
        ci_admin.client.client_id,
        "req-export",
        True,
    )


def test_the_api_service_is_registered_once(api_service):
    from api.services import api_service_ensure
    from audit.actor import SYSTEM

    rows = AuditEvent.objects.count()
    assert api_service_ensure(actor=SYSTEM)[1] == []
    assert AuditEvent.objects.count() == rows
    assert Service.objects.get(name=API_SERVICE_NAME).audience == api_audience()


def test_a_revoked_token_is_refused_at_once(client, api_service, api_token):
    registered = ci_client_with("ci-revoked", "admin:read")
    token = api_token(registered)
    assert client.get("/api/v1/services/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    token_revoke_by_jti(jti=jti, actor=SYSTEM, via="command", now=timezone.now())
    response = client.get("/api/v1/services/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_a_disabled_clients_token_is_refused_at_once(client, api_service, api_token):
    registered = ci_client_with("ci-reader", "admin:read")
    token = api_token(registered)
    assert client.get("/api/v1/services/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    Client.objects.filter(pk=registered.client.pk).update(enabled=False)
    response = client.get("/api/v1/services/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert response.json()["detail"] == "The token's client is disabled or no longer exists."
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_token_the_verifier_refuses_is_named_so(client, api_service, api_token):
    token = api_token(ci_client_with("ci-reader", "admin:read"))
    response = client.get("/api/v1/services/", HTTP_AUTHORIZATION=f"Bearer {token}x")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("The bearer token was refused: ")
