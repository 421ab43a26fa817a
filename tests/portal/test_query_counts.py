"""No page's query count grows with the number of services, clients, grants or events it shows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clients.services import GrantSpec, ScopeSpec, client_register, service_register
from keys.services import key_rotate_now, signing_key_active


def add_registry(start: int, count: int) -> None:
    for i in range(start, start + count):
        service_register(
            name=f"ms_svc{i}",
            audience=f"https://svc{i}.internal",
            scopes=[ScopeSpec(f"svc{i}:read"), ScopeSpec(f"svc{i}:write")],
        )
        client_register(
            name=f"ms_client{i}",
            grants=[GrantSpec(f"ms_svc{i}", f"svc{i}:read"), GrantSpec("ms_svc0", "svc0:read")],
        )


def pages(service_pk: int, client_pk: int) -> list[str]:
    return [
        reverse("portal:dashboard"),
        reverse("portal:service_list"),
        reverse("portal:service_detail", args=[service_pk]),
        reverse("portal:client_list"),
        reverse("portal:client_detail", args=[client_pk]),
        reverse("portal:grant_matrix") + f"?service={service_pk}",
        reverse("portal:key_list"),
        reverse("portal:audit_log"),
    ]


def query_counts(client, urls: list[str]) -> dict[str, int]:
    counts = {}
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts[url] = len(queries)
    return counts


@pytest.mark.django_db
def test_page_query_counts_do_not_grow_with_the_data(admin_client, request_token):
    from clients.models import Client, Service

    signing_key_active()
    add_registry(0, 3)
    service = Service.objects.get(name="ms_svc0")
    client = Client.objects.get(name="ms_client0")
    urls = pages(service.pk, client.pk)
    small = query_counts(admin_client, urls)
    add_registry(3, 25)
    for _ in range(3):
        key_rotate_now(now=timezone.now())
    large = query_counts(admin_client, urls)
    assert large == small
    assert max(large.values()) <= 15
