"""Text from the address bar reaches no query PostgreSQL refuses: a NUL in a search is no match, in a
filter a form error, in a cursor a first page, in `next` the dashboard. Never a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.conftest import PASSWORD


@pytest.mark.parametrize("page", ["portal:client_list", "portal:service_list", "portal:grant_matrix"])
@pytest.mark.parametrize("query", ["%00", "ms%00", "ms_admin%00"])
def test_a_nul_in_a_list_search_matches_nothing(auditor_client, ms_admin, page, query):
    response = auditor_client.get(f"{reverse(page)}?q={query}")
    assert response.status_code == 200
    assert list(response.context["page"].object_list) == []


@pytest.mark.parametrize("field", ["event", "client", "service", "actor", "outcome", "since", "until"])
@pytest.mark.parametrize(("page", "status"), [("portal:audit_log", 200), ("portal:audit_export", 400)])
def test_a_nul_in_an_audit_filter_is_a_form_error(auditor_client, ms_admin, page, status, field):
    response = auditor_client.get(f"{reverse(page)}?{field}=a%00b")
    assert response.status_code == status  # an export that cannot be made is refused, with the form
    assert response.context["form"].errors


@pytest.mark.parametrize(
    "before", ["%00", "20260101T000000.000000Z_1%00", "20260101T000000.000000Z_99999999999999999999"]
)
def test_a_hostile_audit_cursor_shows_the_first_page(auditor_client, before):
    assert auditor_client.get(f"{reverse('portal:audit_log')}?before={before}").status_code == 200


@pytest.mark.parametrize(
    "target", ["/x%00", "/clients/%00", "/clients/%0d%0aSet-Cookie:%20a=b", "%00/clients/"]
)
def test_after_sign_in_a_next_with_a_control_character_goes_to_the_dashboard(client, admin_user, target):
    response = client.post(
        f"{reverse('portal:login')}?next={target}", {"username": admin_user.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:dashboard")


def test_after_sign_in_a_next_on_this_site_is_followed(client, admin_user):
    response = client.post(
        f"{reverse('portal:login')}?next=/clients/%3Fq%3Dms",
        {"username": admin_user.username, "password": PASSWORD},
    )
    assert response["Location"] == "/clients/?q=ms"
