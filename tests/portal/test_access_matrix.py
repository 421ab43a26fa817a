"""Every portal URL × anonymous, outsider, auditor, admin × GET and POST."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import DelegationEdge, Service, TrustedIssuer
from clients.services import ScopeMapping, delegation_edge_add
from keys.services import signing_key_active
from throttling.models import Throttle

# The kinds of access_matrix.toml.
READ = "read"
CHANGE = "change"
POST_ONLY_CHANGE = "post-only change"
ADMIN_READ = "admin read"


MATRIX = tomllib.loads((Path(__file__).parent / "access_matrix.toml").read_text())


def portal_urls(service, scope, client, key) -> list[tuple[str, str]]:
    """Each page of access_matrix.toml, its URL made with these objects, and who may use it."""
    arguments = {
        "service": lambda: service.pk,
        "scope": lambda: scope.pk,
        "client": lambda: client.pk,
        "key": lambda: key.kid,
        "issuer": lambda: trusted_issuer().pk,
        "edge": lambda: edge(service).pk,
        "throttle": lambda: throttle().pk,
    }
    urls = []
    for kind, pages in MATRIX.items():
        for name, *names in (page.split() for page in pages):
            urls.append((reverse(f"portal:{name}", args=[arguments[what]() for what in names]), kind))
    return urls


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
