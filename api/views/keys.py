from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from api.authentication import actor_of
from api.serializers import KeyRevokeSerializer, KeyRotateSerializer, SigningKeySerializer
from api.views.common import AdminApiView, RegistryPagination, valid_data
from keys.models import SigningKey
from keys.services import KeyChanged, KeyStateError, key_revoke, key_rotate_now


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The resource changed."
    default_code = "conflict"


class KeyList(AdminApiView, ListAPIView[SigningKey]):
    """Every signing key, newest first, public half only."""

    serializer_class = SigningKeySerializer
    pagination_class = RegistryPagination
    queryset = SigningKey.objects.defer("private_key_encrypted").order_by("-created_at", "kid")


class KeyRotate(AdminApiView):
    @extend_schema(request=KeyRotateSerializer, responses={201: SigningKeySerializer})
    def post(self, request: Request) -> Response:
        """Emergency rotation (as `rotate_keys --now`): another key signs at once."""
        expected = valid_data(KeyRotateSerializer, request)["expected_active_kid"]
        try:
            key = key_rotate_now(now=timezone.now(), actor=actor_of(request), expected_active_kid=expected)
        except KeyChanged as exc:
            raise Conflict(f"Nothing rotated: {exc}") from None
        return Response(SigningKeySerializer(key).data, status=status.HTTP_201_CREATED)


class KeyRevoke(AdminApiView):
    @extend_schema(request=KeyRevokeSerializer, responses=SigningKeySerializer)
    def post(self, request: Request, kid: str) -> Response:
        """Compromise: the key leaves the JWKS at once. The body names the kid again, as the portal asks."""
        get_object_or_404(SigningKey, kid=kid)
        if valid_data(KeyRevokeSerializer, request)["kid"] != kid:
            raise ValidationError({"kid": ["Type the kid of the key to revoke."]})
        try:
            key = key_revoke(kid=kid, now=timezone.now(), actor=actor_of(request))
        except KeyStateError as exc:
            raise Conflict(str(exc)) from None
        return Response(SigningKeySerializer(key).data)
