from __future__ import annotations

from urllib.parse import urlencode

import pytest

from clients.services import client_register
from tests.conftest import basic_auth


@pytest.fixture
def doctor_gateway(ms_doctor):
    """The client ms_doctor itself runs: it represents the service, so it may introspect its tokens."""
    return client_register(name="ms_doctor_gateway", grants=[], service=ms_doctor)


@pytest.fixture
def post_as(client):
    """POST a form to a protocol endpoint as a registered client (client_secret_basic)."""

    def post(path: str, registered, **params):
        headers = (
            {"HTTP_AUTHORIZATION": basic_auth(registered.client.client_id, registered.client_secret)}
            if registered
            else {}
        )
        return client.post(
            path, data=urlencode(params), content_type="application/x-www-form-urlencoded", **headers
        )

    return post


@pytest.fixture
def token_for(request_token):
    def get(registered, resource: str = "https://doctors.internal") -> str:
        response = request_token(registered, resource=resource)
        assert response.status_code == 200, response.content
        return response.json()["access_token"]

    return get
