"""The dashboard reads at a glance: a chart with a scale and the current hour, denials that name the client."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone

from oauth.services import client_id_audited
from portal.usage import token_usage_roll_up
from tests.conftest import basic_auth


def test_the_chart_has_a_y_axis_and_labels_the_current_hour(auditor_client, request_token, ms_reports):
    for _ in range(4):
        request_token(ms_reports)
    token_usage_roll_up(now=timezone.now())
    page = auditor_client.get(reverse("portal:dashboard"))
    chart = page.context["chart"]
    assert [label for _, label in chart.y_ticks] == ["0", "2", "4"]
    assert chart.x_labels[-1][1] == f"{timezone.now():%H}h now"
    html = page.content.decode()
    assert '<text class="y-tick"' in html and ">4</text>" in html
    assert f">{timezone.now():%H}h now</text>" in html


def test_denials_name_the_client_and_link_to_its_denials_in_the_audit_log(
    auditor_client, request_token, ms_reports
):
    client_id = ms_reports.client.client_id
    request_token(None, headers={"HTTP_AUTHORIZATION": basic_auth(client_id, "wrong")})
    request_token(None, headers={"HTTP_AUTHORIZATION": basic_auth("nobody", "x")})
    page = auditor_client.get(reverse("portal:dashboard"))
    html = page.content.decode()
    link = reverse("portal:audit_log") + "?" + urlencode({"event": "token.denied", "client": client_id})
    assert f'<a href="{link.replace("&", "&amp;")}">ms_reports</a>' in html
    assert '<code class="nowrap">invalid_client</code>' in html  # an error code never breaks mid-word
    # An unregistered id is never shown as typed (it may be a secret): its fingerprint stands in.
    fingerprint = client_id_audited(client_id="nobody")
    unknown = reverse("portal:audit_log") + "?" + urlencode({"event": "token.denied", "client": fingerprint})
    assert f'<a href="{unknown.replace("&", "&amp;")}"><code' in html
    assert "nobody" not in html


def test_every_page_names_a_vendored_favicon(auditor_client, db):
    html = auditor_client.get(reverse("portal:dashboard")).content.decode()
    assert f'<link rel="icon" href="{static("favicon.svg")}" type="image/svg+xml">' in html
    assert finders.find("favicon.svg") is not None
