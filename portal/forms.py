from __future__ import annotations

import json
from datetime import timedelta

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.urls import reverse
from django.utils.html import format_html

from clients.external_subjects import ALLOWED_ALGORITHMS, DEFAULT_ALGORITHMS, JWKS_MAX_BYTES
from clients.models import Client, Scope, Service
from clients.services import ScopeMapping, ScopeSpec
from clients.validators import NAME_RULES, scope_names_parse, validate_client_name
from core.conf import app_settings


class LoginForm(AuthenticationForm):
    username = forms.CharField(
        max_length=150, widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"})
    )


SCOPES_HELP = "Space- or comma-separated, e.g. doctors:read doctors:write"


class ServiceForm(forms.Form):
    name = forms.CharField(max_length=63, help_text=f"e.g. ms_doctor: {NAME_RULES}; fixed once created")
    audience = forms.CharField(
        max_length=255, help_text="Absolute URI, e.g. https://doctors.internal; fixed once created"
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    owner_contact = forms.CharField(max_length=255, required=False, label="Owner contact")
    scopes = forms.CharField(required=False, help_text=SCOPES_HELP)

    def clean_scopes(self) -> list[ScopeSpec]:
        return [ScopeSpec(name) for name in scope_names_parse(self.cleaned_data["scopes"])]


class ServiceEditForm(forms.Form):
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    owner_contact = forms.CharField(max_length=255, required=False, label="Owner contact")


class ScopeForm(forms.Form):
    scopes = forms.CharField(max_length=1000, help_text=SCOPES_HELP)
    description = forms.CharField(max_length=500, required=False, help_text="Given to each scope added")

    def clean_scopes(self) -> list[str]:
        return scope_names_parse(self.cleaned_data["scopes"])


def _lifetime_field() -> forms.IntegerField:
    return forms.IntegerField(
        min_value=60,
        max_value=app_settings.TOKEN_LIFETIME_MAX,
        initial=app_settings.TOKEN_LIFETIME_DEFAULT,
        label="Token lifetime (seconds)",
    )


class ClientEditForm(forms.Form):
    service = forms.ModelChoiceField(
        Service.objects.all(),
        required=False,
        empty_label="— none —",
        label="Represents service",
        help_text="The service that uses this client. A label only: grants decide what it may call.",
    )
    access_token_lifetime = _lifetime_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Built per form, so a changed AUTHPORTAL_TOKEN_LIFETIME_MAX (tests, reload) is honoured.
        self.fields["access_token_lifetime"] = _lifetime_field()


class ClientForm(ClientEditForm):
    name = forms.CharField(
        max_length=63,
        validators=[validate_client_name],
        help_text=f"Usually the calling service's name, e.g. ms_admin: {NAME_RULES}; fixed once created",
    )
    jwks = forms.CharField(
        required=False,
        label="Public keys (JWKS)",
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text='Optional. For private_key_jwt: the client\'s public JWKS, {"keys": [...]} '
        "(python -m authportal_client keygen prints one). The client then has no secret.",
    )
    jwks_uri = forms.CharField(
        required=False,
        max_length=500,
        label="or its JWKS URL",
        help_text="Optional. For private_key_jwt: an https URL where the client publishes its JWKS.",
    )
    field_order = ["name", "service", "access_token_lifetime", "jwks", "jwks_uri"]

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        if cleaned.get("jwks") and cleaned.get("jwks_uri"):
            raise forms.ValidationError("Give either a JWKS or a JWKS URL, not both.")
        return cleaned

    def clean_jwks(self) -> str | None:
        return self.cleaned_data["jwks"].strip() or None

    def clean_jwks_uri(self) -> str:
        return str(self.cleaned_data["jwks_uri"]).strip()

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if existing := Client.objects.filter(name=name).first():
            # Also what re-submitting this form says (a reload of the page that showed the secret).
            url = reverse("portal:client_detail", args=[existing.pk])
            raise forms.ValidationError(
                format_html('The client <a href="{}">{}</a> now exists; choose another name.', url, name)
            )
        return name


class GrantScopesForm(forms.Form):
    """Scopes of any service, granted to one client in one go."""

    scopes = forms.ModelMultipleChoiceField(
        Scope.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one scope to grant."},
    )

    def __init__(self, *args, client: Client, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["scopes"]
        field.queryset = Scope.objects.exclude(grants__client=client).select_related("service")  # type: ignore[attr-defined]


class SecretRotationForm(forms.Form):
    old_secret_valid_hours = forms.IntegerField(
        min_value=0,
        max_value=720,
        initial=24,
        label="Old secret keeps working for (hours)",
        help_text="0 stops it at once; at most 30 days",
    )
    # The secret this form was shown for: submitting the form again rotates nothing.
    secret_version = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def overlap(self) -> timedelta:
        return timedelta(hours=self.cleaned_data["old_secret_valid_hours"])


class TypedConfirmationForm(forms.Form):
    """The person types the thing's identifier: a destructive action is never one stray click."""

    confirmation = forms.CharField(max_length=255)

    def __init__(self, *args, expected: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected = expected

    def clean_confirmation(self) -> str:
        value = self.cleaned_data["confirmation"].strip()
        if value != self.expected:
            raise forms.ValidationError(f"Type {self.expected} exactly to confirm.")
        return value


def _filter_text(
    max_length: int, help_text: str = "", *, label: str | None = None, **attrs: str
) -> forms.CharField:
    """An optional text filter of the audit log; `attrs` are its input's HTML attributes."""
    return forms.CharField(
        required=False,
        max_length=max_length,
        label=label,
        help_text=help_text,
        widget=forms.TextInput(attrs=attrs),
    )


class AuditFilterForm(forms.Form):
    since = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    event = _filter_text(64, "a name, or a family: token.* or token.", placeholder="e.g. client.*")
    client = _filter_text(
        255, "a client's name or its client id", list="client-names", placeholder="name or client id"
    )
    service = _filter_text(63, "a service name")
    actor = _filter_text(255)
    txn = _filter_text(64, "a txn: every hop of one delegated request", label="Transaction")
    edge = _filter_text(
        130, "a call-graph edge: its exchanges and their refusals", placeholder="ms_orders->ms_payments"
    )
    outcome = forms.ChoiceField(
        required=False, choices=[("", "any"), ("success", "success"), ("failure", "failure")]
    )

    def clean_client(self) -> str:
        """A client's name stands for its id; anything else is taken as an id (a denial's unknown id too)."""
        value = self.cleaned_data["client"].strip()
        return Client.objects.filter(name=value).values_list("client_id", flat=True).first() or value

    def clean(self):
        data = super().clean() or {}
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("'Since' must be before 'until'.")
        return data


class TrustedIssuerForm(forms.Form):
    issuer = forms.CharField(
        max_length=255, help_text="The iss of its tokens, exactly, e.g. https://login.example.com"
    )
    slug = forms.CharField(
        max_length=63,
        required=False,
        help_text="Names it in its users' subject, user:<slug>:<user id>; by default its host, e.g. login-example-com",
    )
    jwks_uri = forms.CharField(
        max_length=500, required=False, label="JWKS URL", help_text="https (http only on loopback)"
    )
    jwks = forms.CharField(
        required=False,
        max_length=JWKS_MAX_BYTES,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="or a JWKS document",
        help_text="Its public keys, stored now: remove and add again to change them",
    )
    audience = forms.CharField(max_length=255, help_text="Its tokens' aud must contain this")
    user_claim = forms.CharField(max_length=64, initial="sub", help_text="The claim holding the user id")
    algorithms = forms.MultipleChoiceField(
        choices=[(name, name) for name in ALLOWED_ALGORITHMS],
        initial=list(DEFAULT_ALGORITHMS),
        widget=forms.CheckboxSelectMultiple,
    )

    def clean_jwks(self) -> dict | None:
        text = self.cleaned_data["jwks"].strip()
        if not text:
            return None
        try:
            document = json.loads(text)
        except ValueError:
            raise forms.ValidationError("Not JSON: paste the JWKS document itself.") from None
        if not isinstance(document, dict):
            raise forms.ValidationError('Not a JWKS: a JSON object with a "keys" array.')
        return document


class DelegationEdgeForm(forms.Form):
    """Fields named as `delegation_edge_add`'s keywords, so its refusals land on the right field."""

    from_service = forms.ModelChoiceField(
        queryset=Service.objects.order_by("name"),
        to_field_name="name",
        help_text="It exchanges the tokens sent to it",
    )
    to_service = forms.ModelChoiceField(
        queryset=Service.objects.order_by("name"), to_field_name="name", help_text="The service it calls next"
    )
    mappings = forms.CharField(
        label="Scope map",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "orders:write=payments:charge"}),
        help_text="One per line, UPSTREAM=DOWNSTREAM: a scope of the first service the caller's token holds, "
        "and a scope of the second it allows",
    )
    max_depth = forms.IntegerField(
        required=False, min_value=1, max_value=10, help_text="Most actors in a chain on this edge (default 3)"
    )
    description = forms.CharField(required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_mappings(self) -> list[ScopeMapping]:
        lines = [line.strip() for line in self.cleaned_data["mappings"].splitlines() if line.strip()]
        return [ScopeMapping.parse(line) for line in lines]


class TokenQuotaForm(forms.Form):
    """A client's token quota per throttling window; empty removes it."""

    client = forms.ModelChoiceField(queryset=Client.objects.all(), to_field_name="name")
    tokens_per_window = forms.IntegerField(
        min_value=1, max_value=1_000_000, required=False, help_text="empty: no quota"
    )


class ClientKeyForm(forms.Form):
    """The next public key of a private_key_jwt client, as one JWK with its kid."""

    jwk = forms.CharField(
        label="Next public key (JWK)",
        max_length=JWKS_MAX_BYTES,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text='One public JWK with a kid, e.g. {"kty": "EC", "crv": "P-256", "x": "…", "y": "…", "kid": "k2"}',
    )


class CompromisedClientForm(forms.Form):
    """Revoke every token of a client issued until now, and stop it getting new ones."""

    then = forms.ChoiceField(
        choices=[
            ("disable", "and disable it"),
            ("rotate_secret", "and give it a new secret (the old one stops at once)"),
        ],
        initial="disable",
        widget=forms.RadioSelect,
        label="Revoke every token it holds",
    )


class RevokeTokenForm(forms.Form):
    jti = forms.CharField(
        max_length=255, label="Revoke one token (its jti)", help_text="From the audit log's token.issued row"
    )
