"""What the API reads and writes. Input serializers check shapes only; the rules (names, uniqueness,
audiences, lifetimes, scope maps) are the service functions', so they cannot drift from the portal's."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from audit.models import AuditEvent
from clients.models import Client, DelegationEdge, Service, TrustedIssuer
from clients.services import MAX_SECRET_OVERLAP, GrantSpec, ScopeSpec
from keys.models import SigningKey


class ScopeSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)

    def to_internal_value(self, data: Any) -> ScopeSpec:
        checked = super().to_internal_value(data)
        return ScopeSpec(checked["name"], checked["description"])


class ServiceSerializer(serializers.ModelSerializer):
    scopes = ScopeSerializer(many=True, read_only=True)

    class Meta:
        model = Service
        fields = ["name", "audience", "description", "owner_contact", "scopes", "created_at", "updated_at"]
        read_only_fields = fields


class ServiceCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=63)
    audience = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    owner_contact = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    scopes = ScopeSerializer(many=True, required=False, default=list)


class ServiceUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    owner_contact = serializers.CharField(required=False, allow_blank=True, max_length=255)


class ScopesAddSerializer(serializers.Serializer):
    scopes = ScopeSerializer(many=True, allow_empty=False)


class GrantSerializer(serializers.Serializer):
    service = serializers.CharField(source="scope.service.name", read_only=True)
    scope = serializers.CharField(source="scope.name", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class ClientSerializer(serializers.ModelSerializer):
    service: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True
    )
    grants = serializers.SerializerMethodField()
    previous_secret_expires_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Client
        fields = [
            "client_id",
            "name",
            "service",
            "enabled",
            "access_token_lifetime",
            "grants",
            "previous_secret_expires_at",
            "created",
            "updated",
        ]
        read_only_fields = fields

    def get_grants(self, client: Client) -> list[str]:
        """SERVICE:SCOPE, as `create_client --grant` and the config file write them."""
        return sorted(f"{g.scope.service.name}:{g.scope.name}" for g in client.grants.all())


def _service_named(name: str | None) -> Service | None:
    """The service a client represents, by name: None for none."""
    if name is None:
        return None
    service = Service.objects.filter(name=name).first()
    if service is None:
        raise serializers.ValidationError(f"There is no service {name!r}.")
    return service


class ClientCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=63)
    service = serializers.CharField(required=False, allow_null=True, default=None, max_length=63)
    access_token_lifetime = serializers.IntegerField(required=False, allow_null=True, default=None)
    grants = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, default=list, help_text="SERVICE:SCOPE"
    )

    def validate_service(self, name: str | None) -> Service | None:
        return _service_named(name)

    def validate_grants(self, texts: list[str]) -> list[GrantSpec]:
        try:
            return [GrantSpec.parse(text) for text in texts]
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


class ClientUpdateSerializer(serializers.Serializer):
    service = serializers.CharField(required=False, allow_null=True, max_length=63)
    access_token_lifetime = serializers.IntegerField(required=False)
    enabled = serializers.BooleanField(required=False)

    def validate_service(self, name: str | None) -> Service | None:
        return _service_named(name)


class ClientSecretSerializer(serializers.Serializer):
    """A client's id with its new secret: shown in this response and never again."""

    client_id = serializers.CharField()
    client_secret = serializers.CharField()
    client = ClientSerializer()


class SecretRotateSerializer(serializers.Serializer):
    old_secret_valid_for_seconds = serializers.IntegerField(
        min_value=0,
        max_value=int(MAX_SECRET_OVERLAP.total_seconds()),
        default=86400,
        help_text="How long the current secret keeps working (0: it stops at once)",
    )


class GrantsAddSerializer(serializers.Serializer):
    scopes = serializers.ListField(child=serializers.CharField(max_length=100), allow_empty=False)


class EdgeSerializer(serializers.ModelSerializer):
    from_service = serializers.CharField(source="from_service.name", read_only=True)
    to_service = serializers.CharField(source="to_service.name", read_only=True)
    scope_map = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))

    class Meta:
        model = DelegationEdge
        fields = [
            "from_service",
            "to_service",
            "scope_map",
            "max_depth",
            "enabled",
            "description",
            "created_at",
        ]
        read_only_fields = fields


class EdgeCreateSerializer(serializers.Serializer):
    from_service = serializers.CharField(max_length=63)
    to_service = serializers.CharField(max_length=63)
    scope_map = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField(max_length=100), allow_empty=False),
        allow_empty=False,
        help_text='upstream scope (or "@user") → the downstream scopes it allows',
    )
    max_depth = serializers.IntegerField(required=False, allow_null=True, default=None)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class EdgeUpdateSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()


class TrustedIssuerSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrustedIssuer
        fields = ["issuer", "slug", "jwks_uri", "jwks", "audience", "user_claim", "algorithms", "created_at"]
        read_only_fields = fields


class TrustedIssuerCreateSerializer(serializers.Serializer):
    issuer = serializers.CharField(max_length=255)
    audience = serializers.CharField(max_length=255)
    jwks_uri = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    jwks = serializers.JSONField(required=False, allow_null=True, default=None)
    user_claim = serializers.CharField(required=False, default="sub", max_length=64)
    algorithms = serializers.ListField(
        child=serializers.CharField(max_length=20), required=False, default=list
    )
    slug = serializers.CharField(required=False, allow_blank=True, default="", max_length=63)

    def validate_algorithms(self, value: list[str]) -> list[str] | None:
        return value or None  # none named: the issuer's defaults


class SigningKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = SigningKey
        fields = [
            "kid",
            "algorithm",
            "state",
            "public_jwk",
            "created_at",
            "published_at",
            "activated_at",
            "retired_at",
            "expires_at",
        ]
        read_only_fields = fields


class KeyRotateSerializer(serializers.Serializer):
    expected_active_kid = serializers.CharField(
        required=False,
        allow_null=True,
        default=None,
        max_length=64,
        help_text='The key you mean to replace ("" for none): a second identical request rotates nothing (409)',
    )


class KeyRevokeSerializer(serializers.Serializer):
    kid = serializers.CharField(max_length=64, help_text="The kid again, as a confirmation")


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "occurred_at",
            "event",
            "outcome",
            "actor",
            "subject",
            "remote_addr",
            "request_id",
            "details",
        ]
        read_only_fields = fields


class AuditPageSerializer(serializers.Serializer):
    results = AuditEventSerializer(many=True)
    next = serializers.CharField(
        allow_null=True, help_text="The URL of the next (older) page; null on the last"
    )
