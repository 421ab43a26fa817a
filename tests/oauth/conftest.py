"""Fixtures of the token endpoint's tests."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.oauth.assertion_keys import ASSERTION_TYPE


@pytest.fixture
def post_assertion(client):
    """POST /o/token for client_credentials, the client authenticated by a signed assertion (private_key_jwt)."""

    def post(signed: str, **params):
        body = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed,
            **params,
        }
        return client.post("/o/token", data=urlencode(body), content_type="application/x-www-form-urlencoded")

    return post
