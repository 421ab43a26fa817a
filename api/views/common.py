from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.serializers import Serializer


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
