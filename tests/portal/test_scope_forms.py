"""Scopes typed into either form: one rule for splitting them, and errors that say which scope, where it was typed."""

from __future__ import annotations

from django.urls import reverse

from clients.models import Scope, Service


def errors_of(response, field: str) -> list[str]:
    return list(
        response.context["form" if "form" in response.context else "scope_form"].errors.get(field, [])
    )


def test_registering_a_service_with_a_taken_scope_says_which_scope_under_the_scopes(admin_client, ms_doctor):
    response = admin_client.post(
        reverse("portal:service_create"),
        {"name": "ms_nurse", "audience": "https://nurses.internal", "scopes": "nurses:read doctors:read"},
    )
    form = response.context["form"]
    assert form.errors.get("name") is None
    assert form.errors["scopes"] == [
        "The scope doctors:read exists already, on ms_doctor: scope names are unique across services."
    ]
    assert not Service.objects.filter(name="ms_nurse").exists()


def test_adding_a_taken_scope_on_a_service_page_says_which_scope(admin_client, ms_doctor, ms_college):
    response = admin_client.post(
        reverse("portal:scope_create", args=[ms_college.pk]), {"scopes": "doctors:write"}
    )
    assert response.status_code == 400
    assert response.context["scope_form"].errors["scopes"] == [
        "The scope doctors:write exists already, on ms_doctor: scope names are unique across services."
    ]


def test_both_scope_forms_split_scopes_by_the_same_rule(admin_client, ms_doctor):
    typed = " orders:read,orders:write\torders:admin ,"
    admin_client.post(
        reverse("portal:service_create"),
        {"name": "ms_orders", "audience": "https://orders.internal", "scopes": typed},
    )
    admin_client.post(
        reverse("portal:scope_create", args=[ms_doctor.pk]),
        {"scopes": " doctors:list,doctors:delete\tdoctors:admin ,"},
    )
    assert sorted(Scope.objects.filter(service__name="ms_orders").values_list("name", flat=True)) == [
        "orders:admin",
        "orders:read",
        "orders:write",
    ]
    assert sorted(ms_doctor.scopes.values_list("name", flat=True)) == [
        "doctors:admin",
        "doctors:delete",
        "doctors:list",
        "doctors:read",
        "doctors:write",
    ]


def test_a_scope_listed_twice_is_named(admin_client, ms_doctor):
    response = admin_client.post(reverse("portal:scope_create", args=[ms_doctor.pk]), {"scopes": "a:b a:b"})
    assert response.context["scope_form"].errors["scopes"] == ["a:b is listed twice."]
