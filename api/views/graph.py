"""Delegation edges (the call graph) and trusted user-token issuers."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from api.authentication import actor_of
from api.serializers import (
    EdgeCreateSerializer,
    EdgeSerializer,
    EdgeUpdateSerializer,
    TrustedIssuerCreateSerializer,
    TrustedIssuerSerializer,
)
from api.views.common import AdminApiView, RegistryPagination, valid_data
from clients.models import DelegationEdge, Service, TrustedIssuer
from clients.services import (
    ScopeMapping,
    delegation_edge_add,
    delegation_edge_remove,
    delegation_edge_set_enabled,
    trusted_issuer_add,
    trusted_issuer_remove,
)

EDGES = DelegationEdge.objects.select_related("from_service", "to_service")


def _edge(from_service: str, to_service: str) -> DelegationEdge:
    return get_object_or_404(EDGES, from_service__name=from_service, to_service__name=to_service)


class EdgeList(AdminApiView, ListAPIView[DelegationEdge]):
    serializer_class = EdgeSerializer
    pagination_class = RegistryPagination

    def get_queryset(self) -> QuerySet[DelegationEdge]:
        return EDGES.order_by("from_service__name", "to_service__name")

    @extend_schema(request=EdgeCreateSerializer, responses={201: EdgeSerializer})
    def post(self, request: Request) -> Response:
        data = valid_data(EdgeCreateSerializer, request)
        services = {
            s.name: s for s in Service.objects.filter(name__in=[data["from_service"], data["to_service"]])
        }
        missing = {
            field: [f"There is no service {data[field]!r}."]
            for field in ("from_service", "to_service")
            if data[field] not in services
        }
        if missing:
            raise ValidationError(missing)
        edge = delegation_edge_add(
            from_service=services[data["from_service"]],
            to_service=services[data["to_service"]],
            mappings=[ScopeMapping(up, down) for up, downs in data["scope_map"].items() for down in downs],
            max_depth=data["max_depth"],
            description=data["description"],
            actor=actor_of(request),
        )
        return Response(EdgeSerializer(edge).data, status=status.HTTP_201_CREATED)


class EdgeDetail(AdminApiView):
    @extend_schema(responses=EdgeSerializer)
    def get(self, request: Request, from_service: str, to_service: str) -> Response:
        return Response(EdgeSerializer(_edge(from_service, to_service)).data)

    @extend_schema(request=EdgeUpdateSerializer, responses=EdgeSerializer)
    def patch(self, request: Request, from_service: str, to_service: str) -> Response:
        """Disable or enable the edge (to change its scope map, remove it and add it again)."""
        edge = _edge(from_service, to_service)
        enabled = valid_data(EdgeUpdateSerializer, request)["enabled"]
        edge = delegation_edge_set_enabled(edge=edge, enabled=enabled, actor=actor_of(request))
        return Response(EdgeSerializer(edge).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, from_service: str, to_service: str) -> Response:
        delegation_edge_remove(edge=_edge(from_service, to_service), actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TrustedIssuerList(AdminApiView, ListAPIView[TrustedIssuer]):
    serializer_class = TrustedIssuerSerializer
    pagination_class = RegistryPagination
    queryset = TrustedIssuer.objects.order_by("issuer")

    @extend_schema(request=TrustedIssuerCreateSerializer, responses={201: TrustedIssuerSerializer})
    def post(self, request: Request) -> Response:
        """Trust an issuer's user tokens: its keys from `jwks_uri`, or a `jwks` document stored now."""
        data = valid_data(TrustedIssuerCreateSerializer, request)
        trusted = trusted_issuer_add(**data, actor=actor_of(request))
        return Response(TrustedIssuerSerializer(trusted).data, status=status.HTTP_201_CREATED)


class TrustedIssuerDetail(AdminApiView):
    @extend_schema(responses=TrustedIssuerSerializer)
    def get(self, request: Request, slug: str) -> Response:
        return Response(TrustedIssuerSerializer(get_object_or_404(TrustedIssuer, slug=slug)).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, slug: str) -> Response:
        trusted_issuer_remove(
            trusted_issuer=get_object_or_404(TrustedIssuer, slug=slug), actor=actor_of(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
