from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from audit.actor import Actor


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


def acting(request: HttpRequest) -> Actor:
    """The signed-in admin as the author of a change, with the request's id and address."""
    return Actor.of_user(
        request.user,  # type: ignore[arg-type]  # an admin view: the user is signed in
        request_id=getattr(request, "request_id", ""),
        remote_addr=request.META.get("REMOTE_ADDR"),
    )
