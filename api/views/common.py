from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from api.authentication import ApiTokenAuthentication, PortalSessionAuthentication
from api.permissions import HasRight
from api.problems import ExceptionHandler, api_exception_handler
from api.throttles import CallerRateThrottle


class AdminApiView(APIView):
    """What every /api/v1/ view shares: who may call, how often, JSON in and out, problems for errors.

    Set here rather than in REST_FRAMEWORK so that no other DRF view of the project (the SDK's
    integrations under test) is changed by them.
    """

    # The token first: its challenge (WWW-Authenticate: Bearer) makes a missing login a 401.
    authentication_classes = [ApiTokenAuthentication, PortalSessionAuthentication]
    permission_classes = [HasRight]
    throttle_classes = [CallerRateThrottle]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]

    def get_exception_handler(self) -> ExceptionHandler:
        return api_exception_handler


class RegistryPagination(PageNumberPagination):
    """Services, clients, edges, issuers, keys: pages of 100 by name (`?page=2`, `?page_size=` up to 500)."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


def valid_data(serializer_class: type[Serializer], request: Request) -> dict[str, Any]:
    """The request body checked by `serializer_class`, or a 400 problem naming each field."""
    if not isinstance(request.data, dict):
        raise ValidationError({"non_field_errors": ["The body must be a JSON object."]})
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
