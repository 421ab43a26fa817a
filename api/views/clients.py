from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from api.authentication import actor_of
from api.serializers import (
    ClientCreateSerializer,
    ClientSecretSerializer,
    ClientSerializer,
    ClientUpdateSerializer,
    GrantsAddSerializer,
    GrantSerializer,
    SecretRotateSerializer,
)
from api.views.common import AdminApiView, RegistryPagination, valid_data
from clients.models import Client, Grant, Scope
from clients.services import (
    client_delete,
    client_register,
    client_secret_rotate,
    client_set_enabled,
    client_update,
    grant_remove,
    grants_add,
)
from portal.selectors import client_search

GRANTS = Prefetch("grants", Grant.objects.select_related("scope__service"))


def _client(client_id: str) -> Client:
    return get_object_or_404(ClientDetail.queryset, client_id=client_id)


def _secret_once(client: Client, secret: str, *, status_code: int) -> Response:
    """The one response that carries the secret: never stored, never logged, never cached."""
    body = ClientSecretSerializer(
        {"client_id": client.client_id, "client_secret": secret, "client": client}
    ).data
    return Response(body, status=status_code, headers={"Cache-Control": "no-store"})


class ClientList(AdminApiView, ListAPIView[Client]):
    serializer_class = ClientSerializer
    pagination_class = RegistryPagination

    def get_queryset(self) -> QuerySet[Client]:
        return client_search(query=self.request.query_params.get("q", "")).prefetch_related(GRANTS)

    @extend_schema(parameters=[OpenApiParameter("q", str, description="Part of a name, or a client id")])
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=ClientCreateSerializer, responses={201: ClientSecretSerializer})
    def post(self, request: Request) -> Response:
        """Register a client. Its secret is in this response only."""
        registered = client_register(**valid_data(ClientCreateSerializer, request), actor=actor_of(request))
        return _secret_once(_client(registered.client.client_id), registered.client_secret, status_code=201)


class ClientDetail(AdminApiView, RetrieveAPIView[Client]):
    serializer_class = ClientSerializer
    queryset = Client.objects.select_related("service").prefetch_related(GRANTS)
    lookup_field = "client_id"

    @extend_schema(request=ClientUpdateSerializer, responses=ClientSerializer)
    def patch(self, request: Request, client_id: str) -> Response:
        """Change its service, token lifetime, or enable or disable it."""
        client = _client(client_id)
        data = valid_data(ClientUpdateSerializer, request)
        actor = actor_of(request)
        if "service" in data or "access_token_lifetime" in data:
            client_update(
                client=client,
                service=data.get("service", client.service),
                access_token_lifetime=data.get("access_token_lifetime", client.access_token_lifetime),
                actor=actor,
            )
        if "enabled" in data:
            client_set_enabled(client=client, enabled=data["enabled"], actor=actor)
        return Response(ClientSerializer(_client(client_id)).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, client_id: str) -> Response:
        client_delete(client=_client(client_id), actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ClientSecret(AdminApiView):
    @extend_schema(request=SecretRotateSerializer, responses={201: ClientSecretSerializer})
    def post(self, request: Request, client_id: str) -> Response:
        """Rotate the secret: the new one is in this response only; the old one works for the overlap."""
        client = _client(client_id)
        data = valid_data(SecretRotateSerializer, request)
        secret = client_secret_rotate(
            client=client,
            old_secret_valid_for=timedelta(seconds=data["old_secret_valid_for_seconds"]),
            actor=actor_of(request),
        )
        return _secret_once(_client(client_id), secret, status_code=201)


class ClientGrants(AdminApiView):
    @extend_schema(responses=GrantSerializer(many=True))
    def get(self, request: Request, client_id: str) -> Response:
        grants = _client(client_id).grants.all()
        return Response(GrantSerializer(sorted(grants, key=lambda g: g.scope.name), many=True).data)

    @extend_schema(request=GrantsAddSerializer, responses={201: GrantSerializer(many=True)})
    def post(self, request: Request, client_id: str) -> Response:
        """Grant scopes (by name: scope names are unique across services), all or none."""
        client = _client(client_id)
        names = list(dict.fromkeys(valid_data(GrantsAddSerializer, request)["scopes"]))
        scopes = {
            scope.name: scope for scope in Scope.objects.select_related("service").filter(name__in=names)
        }
        unknown = [name for name in names if name not in scopes]
        if unknown:
            raise ValidationError({"scopes": [f"There is no scope {name!r}." for name in unknown]})
        grants = grants_add(client=client, scopes=[scopes[name] for name in names], actor=actor_of(request))
        return Response(GrantSerializer(grants, many=True).data, status=status.HTTP_201_CREATED)


class ClientGrant(AdminApiView):
    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, client_id: str, scope: str) -> Response:
        client = _client(client_id)
        grant = get_object_or_404(
            Grant.objects.select_related("scope__service"), client=client, scope__name=scope
        )
        grant_remove(client=client, scope=grant.scope, actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
