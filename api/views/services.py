from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from api.authentication import actor_of
from api.serializers import (
    ScopesAddSerializer,
    ServiceCreateSerializer,
    ServiceSerializer,
    ServiceUpdateSerializer,
)
from api.views.common import AdminApiView, RegistryPagination, valid_data
from clients.models import Scope, Service
from clients.services import scope_remove, scopes_add, service_register, service_update
from portal.selectors import service_search

SEARCH = OpenApiParameter("q", str, description="Part of a name or an audience")


def _service(name: str) -> Service:
    return get_object_or_404(ServiceDetail.queryset, name=name)


class ServiceList(AdminApiView, ListAPIView[Service]):
    serializer_class = ServiceSerializer
    pagination_class = RegistryPagination

    def get_queryset(self) -> QuerySet[Service]:
        query = self.request.query_params.get("q", "")
        return service_search(query=query).prefetch_related(
            Prefetch("scopes", Scope.objects.order_by("name"))
        )

    @extend_schema(parameters=[SEARCH])
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=ServiceCreateSerializer, responses={201: ServiceSerializer})
    def post(self, request: Request) -> Response:
        data = valid_data(ServiceCreateSerializer, request)
        service = service_register(**data, actor=actor_of(request))
        return Response(ServiceSerializer(_service(service.name)).data, status=status.HTTP_201_CREATED)


class ServiceDetail(AdminApiView, RetrieveAPIView[Service]):
    serializer_class = ServiceSerializer
    queryset = Service.objects.prefetch_related("scopes")
    lookup_field = "name"

    @extend_schema(request=ServiceUpdateSerializer, responses=ServiceSerializer)
    def patch(self, request: Request, name: str) -> Response:
        service = _service(name)
        data = valid_data(ServiceUpdateSerializer, request)
        service_update(
            service=service,
            description=data.get("description", service.description),
            owner_contact=data.get("owner_contact", service.owner_contact),
            actor=actor_of(request),
        )
        return Response(ServiceSerializer(_service(name)).data)


class ServiceScopes(AdminApiView):
    @extend_schema(request=ScopesAddSerializer, responses={201: ServiceSerializer})
    def post(self, request: Request, name: str) -> Response:
        service = _service(name)
        data = valid_data(ScopesAddSerializer, request)
        scopes_add(service=service, specs=data["scopes"], actor=actor_of(request))
        return Response(ServiceSerializer(_service(name)).data, status=status.HTTP_201_CREATED)


class ServiceScope(AdminApiView):
    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, name: str, scope: str) -> Response:
        """Remove a scope and every grant of it (each grant.removed, then scope.deleted)."""
        found = get_object_or_404(Scope.objects.select_related("service"), service__name=name, name=scope)
        scope_remove(scope=found, actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
