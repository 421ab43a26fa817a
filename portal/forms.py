from __future__ import annotations

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone

from clients.models import Client, Service
from clients.validators import validate_scope_name


class LoginForm(AuthenticationForm):
    username = forms.CharField(
        max_length=150, widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"})
    )


class ServiceForm(forms.Form):
    name = forms.CharField(max_length=63, help_text="e.g. ms_doctor; fixed once created")
    audience = forms.CharField(
        max_length=255, help_text="Absolute URI, e.g. https://doctors.internal; fixed once created"
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    owner_contact = forms.CharField(max_length=255, required=False, label="Owner contact")
    scopes = forms.CharField(
        required=False,
        help_text="Space- or comma-separated, e.g. doctors:read doctors:write",
    )

    def clean_scopes(self) -> list[str]:
        names = [n for n in self.cleaned_data["scopes"].replace(",", " ").split() if n]
        for name in names:
            validate_scope_name(name)
        return names


class ServiceEditForm(forms.Form):
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    owner_contact = forms.CharField(max_length=255, required=False, label="Owner contact")


class ScopeForm(forms.Form):
    name = forms.CharField(max_length=100, validators=[validate_scope_name])
    description = forms.CharField(max_length=500, required=False)


def _lifetime_field() -> forms.IntegerField:
    return forms.IntegerField(
        min_value=60,
        max_value=settings.AUTHPORTAL_TOKEN_LIFETIME_MAX,
        initial=settings.AUTHPORTAL_TOKEN_LIFETIME_DEFAULT,
        label="Token lifetime (seconds)",
    )


class ClientEditForm(forms.Form):
    service = forms.ModelChoiceField(
        Service.objects.all(),
        required=False,
        empty_label="— none —",
        label="Represents service",
    )
    access_token_lifetime = _lifetime_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Built per form, so a changed AUTHPORTAL_TOKEN_LIFETIME_MAX (tests, reload) is honoured.
        self.fields["access_token_lifetime"] = _lifetime_field()


class ClientForm(ClientEditForm):
    name = forms.CharField(max_length=255, help_text="Usually the calling service's name, e.g. ms_admin")
    field_order = ["name", "service", "access_token_lifetime"]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if Client.objects.filter(name=name).exists():
            raise forms.ValidationError("A client with this name exists already.")
        return name


class SecretRotationForm(forms.Form):
    old_secret_valid_hours = forms.IntegerField(
        min_value=0,
        max_value=720,
        initial=24,
        label="Old secret keeps working for (hours)",
        help_text="0 stops it at once; at most 30 days",
    )

    def valid_until(self):
        return timezone.now() + timedelta(hours=self.cleaned_data["old_secret_valid_hours"])


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


class AuditFilterForm(forms.Form):
    since = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    event = forms.CharField(required=False, max_length=64, help_text="a name, or a family: token.*")
    client = forms.CharField(required=False, max_length=255, label="Client id")
    service = forms.CharField(required=False, max_length=63, help_text="a service name")
    actor = forms.CharField(required=False, max_length=255)
    txn = forms.CharField(
        required=False,
        max_length=64,
        label="Transaction",
        help_text="a txn: every hop of one delegated request",
    )
    outcome = forms.ChoiceField(
        required=False, choices=[("", "any"), ("success", "success"), ("failure", "failure")]
    )

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("'Since' must be before 'until'.")
        return data
