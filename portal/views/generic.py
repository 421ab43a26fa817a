"""Generic portal pages, as Django's generic views but on our services: a searchable list, a row's edit
page and its typed-confirmation delete page, each with its role and its audit actor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from core.http import AuthPortalRequest
from portal.forms import TypedConfirmationForm
from portal.roles import admin_required, reader_required
from portal.views.common import acting, form_page, request_actor, search_query


def list_view(search: Callable[..., QuerySet[Any]], template: str) -> Callable[..., Any]:
    """A list page that auditors and admins read: what `search(query=…)` finds for `?q=`, 50 a page."""

    @reader_required
    @require_GET
    def view(request: HttpRequest) -> HttpResponse:
        query = search_query(request)
        page = Paginator(search(query=query), 50).get_page(request.GET.get("page"))
        return render(request, template, {"page": page, "q": query})

    return view


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
            save=acting(request, update, **{noun: row}),
            success=f"Saved {row.name}.",
            done=lambda _saved: redirect(f"portal:{noun}_detail", row.pk),
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
            save=lambda _confirmation: remove(**{noun: row}, actor=request_actor(request)),
            success=success.format(expected),
            done=lambda _saved: redirect(f"portal:{noun}_list"),
        )

    return view
