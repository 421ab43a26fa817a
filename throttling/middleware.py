"""The limits in front of the token endpoint: refused before the view (and any database work) runs.

Installed in settings.MIDDLEWARE right after the request id; it reads the client id as the token
endpoint itself reads it (`oauth.requests.token_request_parse`, no database) and the address as
trusted proxies report it, asks the limiter, and after the view counts what it answered.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from oauth.errors import OAuthError, json_no_store
from oauth.requests import basic_credentials, token_request_parse
from throttling.addresses import client_address
from throttling.ledger import (
    ledger_background_running,
    ledger_chore,
    ledger_due,
    ledger_ensure_running,
    ledger_flush,
)
from throttling.services import (
    Caller,
    Throttled,
    throttles_lifted_apply,
    token_answer_count,
    token_request_throttled,
)

_REFUSALS = {
    "client_failures": "Too many failed authentications for this client id; retry later.",
    "address_failures": "Too many failed authentications from this address; retry later.",
    "token_quota": "This client's token quota for the current window is used up; retry later.",
}


def throttled_response(throttled: Throttled) -> HttpResponse:
    """429, RFC 6749 §5.2-style: `slow_down` (the code RFC 8628 gives a client asking too fast)."""
    response = json_no_store(
        {"error": "slow_down", "error_description": _REFUSALS[throttled.limit]}, status=429
    )
    response["Retry-After"] = str(throttled.retry_after)
    # Not one `django.request` warning per refusal of a flood: the count is in the audit log, and each
    # request has its access-log line (monitoring/). Django skips responses marked so.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def caller_of(request: HttpRequest) -> Caller:
    """Who the request says it is, read as the view will read it, leaving the body for the view.

    With Basic credentials (nearly every client) only the header is decoded, by the token endpoint's
    own decoder; otherwise the form is read by its parser (client_secret_post).
    """
    header = request.META.get("HTTP_AUTHORIZATION")
    try:
        if header is not None:
            client_id = basic_credentials(header)[0]
        else:
            body = request.body  # read once; Django keeps it
            try:
                client_id = token_request_parse(request).client_id
            finally:
                # What Django itself does after reading `body`: the view reads the same bytes again.
                request._stream = io.BytesIO(body)
    except OAuthError:
        client_id = ""  # unreadable: only its address counts (the view refuses it the same way)
    return Caller(client_id=client_id, address=client_address(request.META))


def _error_of(response: HttpResponse) -> str | None:
    if response.status_code == 200:
        return None
    try:
        error = json.loads(response.content).get("error")
    except (ValueError, AttributeError):
        return None
    return error if isinstance(error, str) else None


def token_throttle_middleware(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    token_paths: set[str] = set()
    ledger_chore(throttles_lifted_apply)

    def middleware(request: HttpRequest) -> HttpResponse:
        if not token_paths:
            token_paths.update({reverse("oauth:token"), reverse("oauth:token").rstrip("/") + "/"})
        if request.path not in token_paths:
            return get_response(request)
        ledger_ensure_running()
        caller = caller_of(request)
        # For metrics and the request's log line (monitoring/).
        request.token_caller = caller  # type: ignore[attr-defined]
        throttled = token_request_throttled(caller=caller)
        if throttled is not None:
            request.throttled = throttled  # type: ignore[attr-defined]
            response = throttled_response(throttled)
        else:
            response = get_response(request)
            token_answer_count(caller=caller, status=response.status_code, error=_error_of(response))
        if not ledger_background_running() and ledger_due(now=time.time()):
            ledger_flush()  # no background thread here (the test client, runserver): the next request writes
        return response

    return middleware
