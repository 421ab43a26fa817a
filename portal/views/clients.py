from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from clients.client_keys import client_key_add, client_key_remove, client_keys
from clients.curl import token_request_curl
from clients.models import Client
from clients.services import (
    RegisteredClient,
    SecretChanged,
    client_delete,
    client_register,
    client_secret_rotate,
    client_set_enabled,
    client_update,
    grants_add,
)
from core.conf import app_settings
from core.http import AuthPortalRequest
from portal.forms import (
    ClientEditForm,
    ClientForm,
    ClientKeyForm,
    CompromisedClientForm,
    GrantScopesForm,
    RevokeTokenForm,
    SecretRotationForm,
)
from portal.roles import ADMIN, admin_required, reader_required, role_of
from portal.selectors import client_search, last_secret_rotation, scopes_to_grant
from portal.views.common import acting, add_validation_errors, form_page, request_actor
from portal.views.generic import delete_view, edit_view, list_view
from revocation.services import client_tokens_revoke, token_revoke_by_jti


@reader_required
@require_GET
def client_detail(request: AuthPortalRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(Client.objects.select_related("service"), pk=pk)
    return _client_page(request, client, GrantScopesForm(client=client))


def _client_page(
    request: HttpRequest,
    client: Client,
    grant_form: GrantScopesForm,
    status: int = 200,
    key_form: ClientKeyForm | None = None,
) -> HttpResponse:
    grants = client.grants.select_related("scope__service").order_by("scope__service__name", "scope__name")
    to_grant = scopes_to_grant(client=client) if role_of(request.user) == ADMIN else []
    return render(
        request,
        "portal/clients/detail.html",
        {
            "client": client,
            "grants": grants,
            "to_grant": to_grant,
            "grant_form": grant_form,
            "keys": client_keys(client=client),
            "key_form": key_form or ClientKeyForm(),
        },
        status=status,
    )


@admin_required
@require_POST
def client_key_add_view(request: AuthPortalRequest, pk: int) -> HttpResponse:
    """The client's next public key, published beside its current one (rotation without downtime)."""
    client = get_object_or_404(Client.objects.select_related("service"), pk=pk)
    form = ClientKeyForm(request.POST)
    if form.is_valid():
        try:
            added = client_key_add(client=client, jwk=form.cleaned_data["jwk"], actor=request_actor(request))
        except ValidationError as exc:
            add_validation_errors(form, exc)
        else:
            messages.success(request, f"Added the key {added.kid} to {client.name}: it may sign with it now.")
            return redirect("portal:client_detail", client.pk)
    return _client_page(request, client, GrantScopesForm(client=client), status=400, key_form=form)


@admin_required
@require_POST
def client_key_remove_view(request: AuthPortalRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(Client, pk=pk)
    kid = request.POST.get("kid", "")
    try:
        client_key_remove(client=client, kid=kid, actor=request_actor(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, f"Removed the key {kid} from {client.name}: assertions it signs are refused."
        )
    return redirect("portal:client_detail", client.pk)


@admin_required
@require_POST
def client_grants_add(request: AuthPortalRequest, pk: int) -> HttpResponse:
    """Scopes on any number of services granted from the client's page, without switching services."""
    client = get_object_or_404(Client.objects.select_related("service"), pk=pk)
    form = GrantScopesForm(request.POST, client=client)
    if not form.is_valid():
        return _client_page(request, client, form, status=400)
    scopes = sorted(form.cleaned_data["scopes"], key=lambda scope: (scope.service.name, scope.name))
    grants_add(client=client, scopes=scopes, actor=request_actor(request))
    granted = ", ".join(f"{scope.name} ({scope.service.name})" for scope in scopes)
    messages.success(request, f"Granted {granted} to {client.name}.")
    return redirect("portal:client_detail", client.pk)


def _secret_once(request: AuthPortalRequest, client: Client, secret: str, *, rotated: bool) -> HttpResponse:
    """The one and only time the secret is shown: in this response, never stored or logged.

    The form that led here cannot act twice (a client name is unique, a rotation names the secret it
    replaces), so a reload of this page answers that it was done, and shows no secret.
    """
    audience = (
        client.grants.order_by("scope__service__name")
        .values_list("scope__service__audience", flat=True)
        .first()
    )
    curl = token_request_curl(
        issuer=app_settings.ISSUER, client_id=client.client_id, client_secret=secret, resource=audience
    )
    return render(
        request,
        "portal/clients/secret.html",
        {"client": client, "secret": secret, "rotated": rotated, "curl": curl, "has_grants": bool(audience)},
    )


@never_cache
@admin_required
def client_create(request: AuthPortalRequest) -> HttpResponse:
    form = ClientForm(request.POST or None)

    def created(registered: RegisteredClient) -> HttpResponse:
        messages.success(request, f"Created the client {registered.client.name}.")
        if registered.client.uses_keys:  # no secret to show: it signs assertions with its own key
            return redirect("portal:client_detail", registered.client.pk)
        return _secret_once(request, registered.client, registered.client_secret, rotated=False)

    return form_page(
        request,
        form,
        "portal/clients/form.html",
        save=acting(request, client_register, grants=[]),
        done=created,
    )


@admin_required
@require_POST
def client_disable(request: AuthPortalRequest, pk: int) -> HttpResponse:
    return _client_set_enabled(request, pk, False, "{}: it gets no new tokens until it is enabled again.")


@admin_required
@require_POST
def client_enable(request: AuthPortalRequest, pk: int) -> HttpResponse:
    return _client_set_enabled(request, pk, True, "{}: it can get tokens again.")


def _client_set_enabled(request: AuthPortalRequest, pk: int, enabled: bool, what: str) -> HttpResponse:
    client = get_object_or_404(Client, pk=pk)
    client_set_enabled(client=client, enabled=enabled, actor=request_actor(request))
    messages.success(request, ("Enabled " if enabled else "Disabled ") + what.format(client.name))
    return redirect("portal:client_detail", pk)


client_delete_view = delete_view(
    Client, noun="client", confirm_with="name", remove=client_delete, success="Deleted {}."
)


@never_cache
@admin_required
def client_rotate_secret(request: AuthPortalRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(Client, pk=pk)
    form = SecretRotationForm(request.POST or None, initial={"secret_version": client.secret_version()})
    if request.method == "POST" and form.is_valid():
        try:
            secret = client_secret_rotate(
                client=client,
                old_secret_valid_for=form.overlap(),
                expected_version=form.cleaned_data["secret_version"],
                actor=request_actor(request),
            )
        except SecretChanged:
            client.refresh_from_db()
            context = {"client": client, "last_rotation": last_secret_rotation(client=client)}
            return render(request, "portal/clients/rotated_already.html", context, status=409)
        except ValidationError as exc:
            add_validation_errors(form, exc)
        else:
            client.refresh_from_db()
            if client.previous_secret_expires_at is None:
                messages.success(
                    request, f"Rotated the secret of {client.name}; the old one no longer works."
                )
            else:
                messages.success(
                    request,
                    f"Rotated the secret of {client.name}; the old one works until "
                    f"{client.previous_secret_expires_at:%Y-%m-%d %H:%M} UTC.",
                )
            return _secret_once(request, client, secret, rotated=True)
    return render(request, "portal/clients/rotate.html", {"form": form, "client": client})


@never_cache
@admin_required
@require_POST
def client_tokens_revoke_view(request: AuthPortalRequest, pk: int) -> HttpResponse:
    """The "compromised client" button: every token it holds revoked, and it disabled or re-keyed."""
    client = get_object_or_404(Client.objects.select_related("service"), pk=pk)
    form = CompromisedClientForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose whether to disable the client or rotate its secret.")
        return redirect("portal:client_detail", client.pk)
    try:
        secret = client_tokens_revoke(
            client=client,
            then=form.cleaned_data["then"],
            actor=request_actor(request),
            via="portal",
            now=timezone.now(),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("portal:client_detail", client.pk)
    delay = app_settings.REVOCATION_LIST_MAX_AGE
    messages.success(
        request,
        f"Revoked every token of {client.name} issued until now: introspection refuses them at once, "
        f"verifiers within {delay} seconds.",
    )
    if secret is None:
        return redirect("portal:client_detail", client.pk)
    client.refresh_from_db()
    return _secret_once(request, client, secret, rotated=True)


@admin_required
@require_POST
def token_revoke_view(request: AuthPortalRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(Client, pk=pk)
    form = RevokeTokenForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the jti of the token to revoke.")
        return redirect("portal:client_detail", client.pk)
    jti = form.cleaned_data["jti"]
    try:
        record = token_revoke_by_jti(jti=jti, actor=request_actor(request), via="portal", now=timezone.now())
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Revoked the token {jti} of client {record.client_id}.")
    return redirect("portal:client_detail", client.pk)


client_list = list_view(client_search, "portal/clients/list.html")

client_edit = edit_view(
    Client, ClientEditForm, fields=("service", "access_token_lifetime"), update=client_update
)
