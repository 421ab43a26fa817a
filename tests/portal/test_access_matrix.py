"""Every portal URL × anonymous, outsider, auditor, admin × GET and POST."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import DelegationEdge, Service, TrustedIssuer
from clients.services import ScopeMapping, delegation_edge_add
from keys.services import signing_key_active
from throttling.models import Throttle

READ = "read"  # GET for admins and auditors; POST is 405
CHANGE = "change"  # admins only, whatever the method
POST_ONLY_CHANGE = "post-only change"
ADMIN_READ = "admin read"  # a page only admins see; GET only


def portal_urls(service, scope, client, key) -> list[tuple[str, str]]:
    return [
        (reverse("portal:dashboard"), READ),
        (reverse("portal:service_list"), READ),
        (reverse("portal:service_detail", args=[service.pk]), READ),
        (reverse("portal:client_list"), READ),
        (reverse("portal:client_detail", args=[client.pk]), READ),
        (reverse("portal:grant_matrix"), READ),
        (reverse("portal:key_list"), READ),
        (reverse("portal:audit_log"), READ),
        (reverse("portal:audit_export"), READ),
        (reverse("portal:service_create"), CHANGE),
        (reverse("portal:service_edit", args=[service.pk]), CHANGE),
        (reverse("portal:client_create"), CHANGE),
        (reverse("portal:client_edit", args=[client.pk]), CHANGE),
        (reverse("portal:client_delete", args=[client.pk]), CHANGE),
        (reverse("portal:client_rotate_secret", args=[client.pk]), CHANGE),
        (reverse("portal:key_revoke", args=[key.kid]), CHANGE),
        (reverse("portal:trusted_issuer_list"), READ),
        (reverse("portal:trusted_issuer_create"), CHANGE),
        (reverse("portal:trusted_issuer_delete", args=[trusted_issuer().pk]), CHANGE),
        (reverse("portal:lockout_list"), ADMIN_READ),
        (reverse("portal:call_graph"), READ),
        (reverse("portal:edge_create"), POST_ONLY_CHANGE),
        (reverse("portal:edge_set_enabled", args=[edge(service).pk]), POST_ONLY_CHANGE),
        (reverse("portal:edge_remove", args=[edge(service).pk]), POST_ONLY_CHANGE),
        (reverse("portal:scope_create", args=[service.pk]), POST_ONLY_CHANGE),
        (reverse("portal:scope_delete", args=[service.pk, scope.pk]), POST_ONLY_CHANGE),
        (reverse("portal:client_disable", args=[client.pk]), POST_ONLY_CHANGE),
        (reverse("portal:client_key_add", args=[client.pk]), POST_ONLY_CHANGE),
        (reverse("portal:client_key_remove", args=[client.pk]), POST_ONLY_CHANGE),
        (reverse("portal:client_tokens_revoke", args=[client.pk]), POST_ONLY_CHANGE),
        (reverse("portal:token_revoke", args=[client.pk]), POST_ONLY_CHANGE),
        (reverse("portal:client_enable", args=[client.pk]), POST_ONLY_CHANGE),
        (reverse("portal:grant_toggle"), POST_ONLY_CHANGE),
        (reverse("portal:client_grants_add", args=[client.pk]), POST_ONLY_CHANGE),
        (reverse("portal:key_rotate"), POST_ONLY_CHANGE),
        (reverse("portal:lockout_clear"), POST_ONLY_CHANGE),
        (reverse("portal:throttle_list"), ADMIN_READ),
        (reverse("portal:throttle_lift", args=[throttle().pk]), POST_ONLY_CHANGE),
        (reverse("portal:token_quota"), POST_ONLY_CHANGE),
    ]


def throttle() -> Throttle:
    """A client id over its limit, so that the lift URL has something to name."""
    until = timezone.now() + timedelta(minutes=1)
    return Throttle.objects.get_or_create(
        key="0" * 32,
        defaults={"limit": "client_failures", "label": "someone", "since": timezone.now(), "until": until},
    )[0]


def trusted_issuer() -> TrustedIssuer:
    return TrustedIssuer.objects.get_or_create(
        issuer="https://idp.example.com",
        defaults={
            "slug": "idp",
            "jwks_uri": "https://idp.example.com/jwks",
            "audience": "https://gateway.internal",
        },
    )[0]


def edge(service) -> DelegationEdge:
    """An edge from `service` to another: the matrix's admin POST may remove it, so it comes back."""
    found = DelegationEdge.objects.filter(from_service=service).first()
    if found:
        return found
    other = Service.objects.exclude(pk=service.pk).order_by("name").first()
    return delegation_edge_add(
        from_service=service,
        to_service=other,
        mappings=[ScopeMapping(service.scopes.order_by("name").first().name, other.scopes.first().name)],
    )


def expected_status(role: str, kind: str, method: str) -> set[int]:
    if role == "anonymous":
        return {302}
    if role == "outsider":
        return {403}
    if kind == READ:
        return {200} if method == "GET" else {405}
    if role == "auditor":
        return {403}
    # admin
    if kind == ADMIN_READ:
        return {200} if method == "GET" else {405}
    if kind == POST_ONLY_CHANGE and method == "GET":
        return {405}
    return {200, 302, 400, 404}  # an empty POST may name no object


@pytest.mark.parametrize("role", ["anonymous", "outsider", "auditor", "admin"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_every_portal_url_answers_each_role_as_it_should(
    client, ms_doctor, ms_admin, admin_user, auditor_user, outsider_user, role, method
):
    key = signing_key_active()
    scope = ms_doctor.scopes.get(name="doctors:write")
    users = {"admin": admin_user, "auditor": auditor_user, "outsider": outsider_user}
    if role in users:
        client.force_login(users[role])
    seen = []
    for url, kind in portal_urls(ms_doctor, scope, ms_admin.client, key):
        response = client.get(url) if method == "GET" else client.post(url, {})
        seen.append((url, response.status_code))
        assert response.status_code in expected_status(role, kind, method), (
            role,
            method,
            url,
            response.status_code,
        )
        if role == "anonymous":
            assert response["Location"].startswith(reverse("portal:login"))


def test_the_matrix_covers_every_portal_url(ms_doctor, ms_admin, db):
    from portal.urls import urlpatterns

    key = signing_key_active()
    scope = ms_doctor.scopes.first()
    covered = {url for url, _ in portal_urls(ms_doctor, scope, ms_admin.client, key)}
    names = {p.name for p in urlpatterns} - {"login", "logout"}
    assert len(names) == len(covered)


def test_djangos_admin_is_not_served(client, admin_user):
    # The portal covers what admins need, with its roles and audit rows; Django's admin had neither.
    client.force_login(admin_user)
    assert client.get("/django-admin/").status_code == 404
    assert client.post("/django-admin/login/", {"username": "x", "password": "y"}).status_code == 404
