from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from audit.actor import Actor
from core.http import AuthPortalRequest


def add_validation_errors(form: forms.Form, exc: ValidationError) -> None:
    """A service function's ValidationError, shown on the form: on its field when the field is there."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def search_query(request: HttpRequest) -> str:
    """A list page's search, `?q=`: trimmed, at most 100 characters (the selectors decide the rest)."""
    return request.GET.get("q", "").strip()[:100]


def request_actor(request: AuthPortalRequest) -> Actor:
    """The signed-in user acting through this request, as the audit log names them."""
    return Actor.of_user(
        request.user, request_id=request.request_id, remote_addr=request.META.get("REMOTE_ADDR")
    )


def acting(
    request: AuthPortalRequest, service: Callable[..., Any], /, **arguments: Any
) -> Callable[..., Any]:
    """`service` as a page's form saves through it: the form's cleaned data and `arguments` as keywords,
    the signed-in user as the actor."""
    return lambda data: service(**data, **arguments, actor=request_actor(request))


def form_page(
    request: HttpRequest,
    form: forms.Form,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    save: Callable[[dict[str, Any]], Any],
    done: Callable[[Any], HttpResponse],
    success: str = "",
) -> HttpResponse:
    """A page that is one form: on a valid POST, `save(cleaned_data)` (a service function's ValidationError
    shown on the form), then the `success` message and `done(what save returned)`; otherwise the page
    with the form."""
    if request.method == "POST" and form.is_valid():
        try:
            saved = save(form.cleaned_data)
        except ValidationError as exc:
            add_validation_errors(form, exc)
        else:
            if success:
                messages.success(request, success)
            return done(saved)
    return render(request, template, {"form": form, **(context or {})})
