"""The keys page: a timeline a person can read (dates, which key, where now is) and revoke as a button."""

from __future__ import annotations

import re

from django.urls import reverse
from django.utils import timezone

from keys.services import key_rotate_now, signing_key_active


def timeline_svg(html: str) -> str:
    return html[
        html.index('<svg class="timeline"') : html.index("</svg>", html.index('<svg class="timeline"'))
    ]


def test_the_timeline_has_a_date_axis_key_labels_and_now(auditor_client, db):
    first = signing_key_active()
    second = key_rotate_now(now=timezone.now())
    svg = timeline_svg(auditor_client.get(reverse("portal:key_list")).content.decode())
    labels = re.findall(r'<text class="key-label"[^>]*>([^<]+)</text>', svg)
    assert labels == [f"{second.kid[:10]}… active", f"{first.kid[:10]}… retired"]
    ticks = re.findall(r'<text class="date-tick"[^>]*>([^<]+)</text>', svg)
    assert len(ticks) >= 3 and f"{timezone.now():%b %d}" in ticks[0] + " ".join(ticks)
    assert re.search(r'<line class="now"[^>]*/><text class="now-label"[^>]*>now</text>', svg)


def test_revoke_is_a_button_like_the_other_dangerous_actions(admin_client, db):
    key = signing_key_active()
    html = admin_client.get(reverse("portal:key_list")).content.decode()
    assert (
        f'<a class="button danger" href="{reverse("portal:key_revoke", args=[key.kid])}">Revoke…</a>' in html
    )
