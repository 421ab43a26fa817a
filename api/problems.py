"""Every error of the API as RFC 9457 problem details (`application/problem+json`).

{"type": "about:blank", "title": "Not Found", "status": 404, "detail": "…", "instance": "/api/v1/…"};
validation errors add `errors`: [{"field": "scopes.0.name", "message": "…"}], one per message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

PROBLEM_CONTENT_TYPE = "application/problem+json"
ExceptionHandler = Callable[[Exception, Mapping[str, Any]], "Response | None"]
log = logging.getLogger(__name__)


class ProblemJSONRenderer(JSONRenderer):
    media_type = PROBLEM_CONTENT_TYPE


def problem_document(
    *, status: int, detail: str, instance: str, errors: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors:
        document["errors"] = errors
    return document


def field_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested error detail flattened to one {field, message} per message."""
    if isinstance(detail, Mapping):
        return [
            error
            for name, value in detail.items()
            for error in field_errors(value, f"{prefix}.{name}" if prefix else str(name))
        ]
    if isinstance(detail, Sequence) and not isinstance(detail, str):
        nested = any(isinstance(item, Mapping | list) for item in detail)
        if nested:
            return [
                error
                for index, item in enumerate(detail)
                for error in field_errors(item, f"{prefix}.{index}" if prefix else str(index))
            ]
        return [{"field": prefix or "non_field_errors", "message": str(item)} for item in detail]
    return [{"field": prefix or "non_field_errors", "message": str(detail)}]


def validation_error_detail(exc: DjangoValidationError) -> Any:
    """A service's ValidationError as DRF would give it: by field when it names fields."""
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if name == "__all__" else name): [str(m) for m in messages]
            for name, messages in exc.message_dict.items()
        }
    return {"non_field_errors": list(exc.messages)}


def api_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """The exception handler of every API view (AdminApiView.get_exception_handler)."""
    request = context.get("request")
    instance = request.get_full_path() if request is not None else ""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(validation_error_detail(exc))
    if not isinstance(exc, exceptions.APIException):
        # A bug: logged with its traceback for us, and a problem document without any detail for the caller.
        log.error("API error on %s", instance, exc_info=exc)
        exc = exceptions.APIException("Internal error; it has been logged.")
    headers: dict[str, str] = {}
    if auth_header := getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = auth_header
    if wait := getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(wait))
    if isinstance(exc, exceptions.ValidationError):
        errors = field_errors(exc.detail)
        detail = "The request is not valid: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        document = problem_document(status=exc.status_code, detail=detail, instance=instance, errors=errors)
    else:
        document = problem_document(status=exc.status_code, detail=str(exc.detail), instance=instance)
    response = Response(document, status=exc.status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)
    # Errors must render even when content negotiation failed (406) or never ran (415).
    response.accepted_renderer = ProblemJSONRenderer()
    response.accepted_media_type = PROBLEM_CONTENT_TYPE
    # DRF sets renderer_context at render time; its stubs do not declare it.
    response.renderer_context = dict(context)  # type: ignore[attr-defined]
    return response


def problem_response(request: HttpRequest, *, status: int, detail: str) -> HttpResponse:
    """The same document from plain Django: the API's unknown URLs."""
    body = problem_document(status=status, detail=detail, instance=request.get_full_path())
    return HttpResponse(json.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE)


def api_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    return problem_response(request, status=404, detail="There is no such API endpoint.")
