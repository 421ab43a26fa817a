"""The keys page: a timeline a person can read (dates, which key, where now is) and revoke as a button."""

from __future__ import annotations

import re
from io import StringIO

from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from keys.models import SigningKey
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


def rotate_now_form(html: str) -> dict[str, str]:
    """The fields of the page's "Rotate now" form, as a browser would post them."""
    form = html[html.index(f'action="{reverse("portal:key_rotate")}"') :]
    form = form[: form.index("</form>")]
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))


def test_rotate_now_posted_twice_from_the_same_page_rotates_once_and_says_so(admin_client, admin_user, db):
    first = signing_key_active()
    fields = rotate_now_form(admin_client.get(reverse("portal:key_list")).content.decode())
    assert fields["active_kid"] == first.kid

    admin_client.post(reverse("portal:key_rotate"), fields, follow=True)
    second = SigningKey.objects.get(state="active")
    again = admin_client.post(reverse("portal:key_rotate"), fields, follow=True)

    assert second.kid != first.kid
    assert SigningKey.objects.get(state="active").kid == second.kid
    assert SigningKey.objects.count() == 2
    (message,) = [str(m) for m in again.context["messages"]]
    assert message.startswith(f"Nothing rotated: the key was already rotated by {admin_user.username} at ")
    assert message.endswith(f"; {second.kid} signs now.")


def test_rotate_now_without_naming_the_key_it_replaces_rotates_nothing(admin_client, db):
    first = signing_key_active()
    admin_client.post(reverse("portal:key_rotate"))
    assert SigningKey.objects.get(state="active").kid == first.kid


def test_the_rotate_command_needs_no_expected_key(db):
    first = signing_key_active()
    call_command("rotate_keys", "--now", stdout=StringIO())
    assert SigningKey.objects.get(state="active").kid != first.kid
