"""Which audiences and scopes a token gets (RFC 8707 `resource` with `scope`)."""

from __future__ import annotations

import pytest

from clients.selectors import GrantedScope
from oauth.errors import OAuthError
from oauth.services import token_targets_resolve

DOCTORS = "https://doctors.internal"
COLLEGE = "https://college.internal"
GRANTED = [
    GrantedScope("doctors:read", DOCTORS),
    GrantedScope("doctors:write", DOCTORS),
    GrantedScope("college:read", COLLEGE),
]


def resolve(granted=GRANTED, scopes=None, resources=None):
    return token_targets_resolve(granted=granted, scopes=scopes, resources=resources)


def error_of(**kwargs) -> str:
    with pytest.raises(OAuthError) as caught:
        resolve(**kwargs)
    return caught.value.error


def test_resource_without_scope_gets_every_granted_scope_on_it():
    targets = resolve(resources=[DOCTORS])
    assert targets.audiences == [DOCTORS]
    assert targets.scopes == ["doctors:read", "doctors:write"]


def test_scope_without_resource_gets_the_owning_services_as_audience():
    targets = resolve(scopes=["college:read", "doctors:read"])
    assert targets.audiences == [COLLEGE, DOCTORS]
    assert targets.scopes == ["college:read", "doctors:read"]


def test_resource_and_scope_narrow_to_the_scopes_asked_for():
    targets = resolve(scopes=["doctors:read"], resources=[DOCTORS])
    assert targets.audiences == [DOCTORS]
    assert targets.scopes == ["doctors:read"]


def test_several_resources_give_several_audiences():
    targets = resolve(resources=[DOCTORS, COLLEGE])
    assert targets.audiences == [DOCTORS, COLLEGE]
    assert targets.scopes == ["doctors:read", "doctors:write", "college:read"]


def test_nothing_asked_with_grants_on_one_service_gets_them_all():
    one_service = GRANTED[:2]
    targets = resolve(granted=one_service)
    assert targets.audiences == [DOCTORS]
    assert targets.scopes == ["doctors:read", "doctors:write"]


def test_nothing_asked_with_grants_on_several_services_asks_for_a_resource():
    with pytest.raises(OAuthError) as caught:
        resolve()
    assert caught.value.error == "invalid_target"
    assert "resource" in caught.value.description


def test_a_client_without_grants_gets_invalid_scope():
    assert error_of(granted=[]) == "invalid_scope"


def test_scope_not_granted_is_invalid_scope():
    assert error_of(scopes=["college:write"]) == "invalid_scope"


def test_unknown_or_ungranted_resource_is_invalid_target():
    assert error_of(resources=["https://orders.internal"]) == "invalid_target"


def test_scope_of_another_resource_than_the_one_asked_for_is_invalid_scope():
    assert error_of(scopes=["college:read"], resources=[DOCTORS]) == "invalid_scope"


def test_a_resource_that_no_requested_scope_applies_to_is_invalid_target():
    assert error_of(scopes=["doctors:read"], resources=[DOCTORS, COLLEGE]) == "invalid_target"
