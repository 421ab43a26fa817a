from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from audit.actor import Actor
from keys.models import SigningKey
from keys.selectors import key_active_kid, key_schedule
from keys.services import KeyChanged, key_revoke, key_rotate_now
from portal.charts import key_timeline
from portal.forms import TypedConfirmationForm
from portal.roles import admin_required, reader_required
from portal.selectors import last_key_activation


@reader_required
@require_GET
def key_list(request: HttpRequest) -> HttpResponse:
    rows = key_schedule()[:50]
    return render(
        request,
        "portal/keys/list.html",
        {
            "rows": rows,
            "timeline": key_timeline(rows[:12], now=timezone.now()),
            "active_kid": key_active_kid(),
        },
    )


@admin_required
@require_POST
def key_rotate_view(request: HttpRequest) -> HttpResponse:
    # The form names the key it replaces, so a second submission (a double click) rotates nothing.
    expected = request.POST.get("active_kid", "")[:64]
    try:
        key = key_rotate_now(now=timezone.now(), actor=_actor(request), expected_active_kid=expected)
    except KeyChanged as changed:
        activation = last_key_activation(kid=changed.active_kid)
        by = f" by {activation.actor} at {activation.occurred_at:%Y-%m-%d %H:%M:%S} UTC" if activation else ""
        messages.error(
            request,
            f"Nothing rotated: the key was already rotated{by}; {changed.active_kid or 'no key'} signs now.",
        )
        return redirect("portal:key_list")
    messages.success(
        request, f"Rotated: the new key {key.kid} signs from now on; the previous one is retired."
    )
    return redirect("portal:key_list")


@admin_required
def key_revoke_view(request: HttpRequest, kid: str) -> HttpResponse:
    key = get_object_or_404(SigningKey, kid=kid, state__in=SigningKey.PUBLISHED_STATES)
    form = TypedConfirmationForm(request.POST or None, expected=key.kid)
    if request.method == "POST" and form.is_valid():
        key_revoke(kid=key.kid, now=timezone.now(), actor=_actor(request))
        messages.success(request, f"Revoked the key {key.kid}: it is out of the JWKS.")
        return redirect("portal:key_list")
    return render(request, "portal/keys/revoke.html", {"form": form, "key": key})


def _actor(request: HttpRequest) -> Actor:
    return Actor.of_user(
        request.user,
        request_id=getattr(request, "request_id", ""),
        remote_addr=request.META.get("REMOTE_ADDR"),
    )
