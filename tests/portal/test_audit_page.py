"""The audit log page as an auditor uses it: clients by name, services on either database, readable rows."""

from __future__ import annotations

import re

from django.urls import reverse

from tests.conftest import basic_auth


def events_shown(response) -> list[str]:
    return re.findall(r'<td class="nowrap"><code>([a-z_.]+)</code>', response.content.decode())


def test_the_client_filter_takes_a_name_as_well_as_an_id(auditor_client, request_token, ms_admin, ms_reports):
    request_token(ms_admin, resource="https://doctors.internal")
    request_token(ms_reports)
    by_id = auditor_client.get(reverse("portal:audit_log"), {"client": ms_admin.client.client_id})
    by_name = auditor_client.get(reverse("portal:audit_log"), {"client": "ms_admin"})
    assert (
        events_shown(by_name)
        == events_shown(by_id)
        == ["token.issued", "grant.added", "grant.added", "client.created"]
    )


def test_the_client_filter_suggests_client_names(auditor_client, ms_admin, ms_reports):
    page = auditor_client.get(reverse("portal:audit_log")).content.decode()
    assert 'list="client-names"' in page
    datalist = page[page.index('<datalist id="client-names">') :]
    assert '<option value="ms_admin">' in datalist and '<option value="ms_reports">' in datalist


def test_the_service_filter_finds_the_tokens_issued_for_it(
    auditor_client, request_token, ms_admin, ms_college
):
    # Runs on PostgreSQL with DATABASE_URL set and on SQLite without: the same events on both.
    request_token(ms_admin, resource="https://doctors.internal")
    request_token(ms_admin, resource="https://college.internal")
    doctor = events_shown(auditor_client.get(reverse("portal:audit_log"), {"service": "ms_doctor"}))
    college = events_shown(auditor_client.get(reverse("portal:audit_log"), {"service": "ms_college"}))
    assert doctor.count("token.issued") == 1 and college.count("token.issued") == 1
    assert doctor == ["token.issued", "grant.added", "scope.created", "scope.created", "service.created"]


def test_an_event_family_is_written_with_or_without_the_star(auditor_client, request_token, ms_reports):
    request_token(ms_reports)
    request_token(None, headers={"HTTP_AUTHORIZATION": basic_auth("nobody", "x")})
    with_star = events_shown(auditor_client.get(reverse("portal:audit_log"), {"event": "token.*"}))
    without = events_shown(auditor_client.get(reverse("portal:audit_log"), {"event": "token."}))
    assert with_star == without == ["token.denied", "token.issued"]


def test_rows_name_the_client_beside_its_id_and_show_exp_as_a_time(auditor_client, request_token, ms_reports):
    request_token(ms_reports)
    page = auditor_client.get(reverse("portal:audit_log"), {"event": "token.issued"}).content.decode()
    row = page[page.index("<code>token.issued</code>") :]
    row = row[: row.index("</tr>")]
    client_id = ms_reports.client.client_id
    assert f'<span class="name">ms_reports</span> <code class="id" title="{client_id}">' in row  # actor
    assert row.count('<span class="name">ms_reports</span>') == 2  # actor and subject
    assert re.search(r"exp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", row)


def test_details_are_folded_so_the_table_fits_the_page(auditor_client, request_token, ms_reports):
    request_token(ms_reports)
    page = auditor_client.get(reverse("portal:audit_log"), {"event": "token.issued"}).content.decode()
    row = page[page.index("<code>token.issued</code>") :]
    details = row[row.index('<td class="details">') : row.index("</tr>")]
    assert details.count("<details>") == 1 and "<summary>" in details
    assert "jti" in details[details.index("</summary>") :]  # long values live in the folded part
