"""Granting from the matrix and from a client's page: hints that mean what they say, several services at once."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from clients.models import Grant


def test_a_grant_made_seconds_ago_is_not_marked_unused(admin_client, ms_doctor, ms_reports):
    page = admin_client.get(reverse("portal:grant_matrix"), {"service": ms_doctor.pk}).content.decode()
    assert 'title="Revoke doctors:write from ms_reports"' in page
    assert "unused for 30 days" not in page


def test_a_grant_unrequested_for_30_days_since_it_was_made_is_marked_unused(
    admin_client, ms_doctor, ms_reports
):
    Grant.objects.filter(client=ms_reports.client, scope__name="doctors:write").update(
        created_at=timezone.now() - timedelta(days=31)
    )
    page = admin_client.get(reverse("portal:grant_matrix"), {"service": ms_doctor.pk}).content.decode()
    assert 'title="Revoke doctors:write from ms_reports (unused for 30 days)"' in page
    assert 'title="Revoke doctors:read from ms_reports"' in page


def test_revoking_from_the_matrix_or_a_client_page_asks_first(admin_client, ms_doctor, ms_reports):
    matrix = admin_client.get(reverse("portal:grant_matrix"), {"service": ms_doctor.pk}).content.decode()
    assert matrix.count('data-confirm="Revoke doctors:') == 2
    detail = admin_client.get(reverse("portal:client_detail", args=[ms_reports.client.pk])).content.decode()
    assert detail.count('data-confirm="Revoke doctors:') == 2


def test_a_client_page_offers_the_scopes_of_every_service(admin_client, ms_doctor, ms_college, ms_reports):
    page = admin_client.get(reverse("portal:client_detail", args=[ms_reports.client.pk])).content.decode()
    offered = page[page.index('id="grant-more"') :]
    assert "ms_college" in offered and f'value="{ms_college.scopes.get().pk}"' in offered
    # doctors:read and doctors:write are granted already: offered for revocation, not for granting
    assert "doctors:read" not in offered


def test_an_admin_grants_scopes_on_several_services_in_one_go(
    admin_client, ms_doctor, ms_college, ms_reports
):
    from clients.services import scope_add

    scope_add(service=ms_doctor, name="doctors:admin")
    wanted = [ms_college.scopes.get(name="college:read"), ms_doctor.scopes.get(name="doctors:admin")]
    response = admin_client.post(
        reverse("portal:client_grants_add", args=[ms_reports.client.pk]),
        {"scopes": [scope.pk for scope in wanted]},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("portal:client_detail", args=[ms_reports.client.pk])
    assert [str(m) for m in response.context["messages"]] == [
        "Granted college:read (ms_college), doctors:admin (ms_doctor) to ms_reports."
    ]
    assert set(Grant.objects.filter(client=ms_reports.client).values_list("scope__name", flat=True)) == {
        "doctors:read",
        "doctors:write",
        "doctors:admin",
        "college:read",
    }
    added = AuditEvent.objects.filter(event="grant.added", actor="alice-admin")
    assert sorted(added.values_list("details__service", flat=True)) == ["ms_college", "ms_doctor"]


def test_granting_nothing_is_a_form_error_and_changes_nothing(admin_client, ms_doctor, ms_reports):
    response = admin_client.post(reverse("portal:client_grants_add", args=[ms_reports.client.pk]), {})
    assert response.status_code == 400
    assert b"Choose at least one scope" in response.content
    assert Grant.objects.filter(client=ms_reports.client).count() == 2
