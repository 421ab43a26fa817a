from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from audit.actor import Actor
from core.http import AuthPortalRequest
from portal.forms import TypedConfirmationForm
from portal.roles import admin_required


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


def search_page(request: HttpRequest, search: Callable[..., QuerySet[Any]], template: str) -> HttpResponse:
    """A list page: what `search(query=…)` finds for `?q=`, 50 a page."""
    query = search_query(request)
    page = Paginator(search(query=query), 50).get_page(request.GET.get("page"))
    return render(request, template, {"page": page, "q": query})


def request_actor(request: AuthPortalRequest) -> Actor:
    """The signed-in user acting through this request, as the audit log names them."""
    return Actor.of_user(
        request.user, request_id=request.request_id, remote_addr=request.META.get("REMOTE_ADDR")
    )


def form_page(
    request: HttpRequest,
    form: forms.Form,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    save: Callable[[dict[str, Any]], object],
    done: Callable[[], HttpResponse],
    success: str = "",
) -> HttpResponse:
    """A page that is one form: on a valid POST, `save(cleaned_data)` (a service function's ValidationError
    shown on the form), then the `success` message and `done()`; otherwise the page with the form."""
    if request.method == "POST" and form.is_valid():
        try:
            save(form.cleaned_data)
        except ValidationError as exc:
            add_validation_errors(form, exc)
        else:
            if success:
                messages.success(request, success)
            return done()
    return render(request, template, {"form": form, **(context or {})})


def edit_view(
    model: type[Model],
    form_class: type[forms.Form],
    *,
    fields: tuple[str, ...],
    update: Callable[..., object],
) -> Callable[..., Any]:
    """A security admin's edit page for one row of `model` (`portal/<noun>s/edit.html`): the form starts
    from the row's `fields`; a valid POST calls `update(<noun>=row, actor=…, **cleaned_data)` and goes back
    to the row's page."""
    noun = str(model._meta.model_name)

    @admin_required
    def view(request: AuthPortalRequest, pk: int) -> HttpResponse:
        row: Any = get_object_or_404(model, pk=pk)
        form = form_class(request.POST or None, initial={field: getattr(row, field) for field in fields})
        return form_page(
            request,
            form,
            f"portal/{noun}s/edit.html",
            {noun: row},
            save=lambda data: update(**{noun: row}, actor=request_actor(request), **data),
            success=f"Saved {row.name}.",
            done=lambda: redirect(f"portal:{noun}_detail", row.pk),
        )

    return view


def delete_view(
    model: type[Model], *, noun: str, confirm_with: str, remove: Callable[..., object], success: str
) -> Callable[..., Any]:
    """A security admin's page that deletes one row of `model` (`portal/<noun>s/delete.html`) once they
    type the row's `confirm_with` field: `remove(<noun>=row, actor=…)`, the `success` message (`{}` is
    what they typed), then the list."""

    @admin_required
    def view(request: AuthPortalRequest, pk: int) -> HttpResponse:
        row = get_object_or_404(model, pk=pk)
        expected = getattr(row, confirm_with)
        form = TypedConfirmationForm(request.POST or None, expected=expected)
        return form_page(
            request,
            form,
            f"portal/{noun}s/delete.html",
            {noun: row},
            save=lambda _data: remove(**{noun: row}, actor=request_actor(request)),
            success=success.format(expected),
            done=lambda: redirect(f"portal:{noun}_list"),
        )

    return view
