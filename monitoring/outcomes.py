"""What one request came to, as metrics and the request log tell it: never a secret, token or assertion.

For the token endpoint: the client id only when the client authenticated (an issued token's
`client_id`, or a refusal that comes after authentication); a presented id that failed may be a
secret pasted in the wrong place, so it is never named. The outcome is `issued`, an RFC 6749 error
code, or `throttled`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse

# Refusals decided after the client authenticated: its presented id is a registered client's.
AUTHENTICATED_REFUSALS = frozenset(
    {"invalid_scope", "invalid_target", "unauthorized_client", "unsupported_grant_type"}
)


@dataclass(frozen=True)
class Outcome:
    endpoint: str
    status: int
    outcome: str  # "issued", an RFC 6749 error, "throttled", or the status class ("ok", "client_error", ...)
    client_id: str = ""
    audience: str = ""
    grant: str = ""
    throttle_limit: str = ""


def _body(response: HttpResponse) -> dict[str, object]:
    if getattr(response, "streaming", False) or "json" not in response.get("Content-Type", ""):
        return {}
    try:
        body = json.loads(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _generic(status: int) -> str:
    return {2: "ok", 3: "redirect", 4: "client_error", 5: "server_error"}.get(status // 100, "other")


def outcome_of(request: HttpRequest, response: HttpResponse, *, endpoint: str) -> Outcome:
    status = response.status_code
    if endpoint != "oauth:token":
        return Outcome(endpoint=endpoint, status=status, outcome=_generic(status))
    throttled = getattr(request, "throttled", None)
    if throttled is not None:
        return Outcome(endpoint=endpoint, status=status, outcome="throttled", throttle_limit=throttled.limit)
    claims = getattr(request, "token_claims", None)
    if status == 200 and claims is not None:
        audience = claims.get("aud", "")
        return Outcome(
            endpoint=endpoint,
            status=status,
            outcome="issued",
            client_id=str(claims.get("client_id", "")),
            audience=" ".join(sorted(audience)) if isinstance(audience, list) else str(audience),
            grant="token_exchange" if "act" in claims else "client_credentials",
        )
    error = str(_body(response).get("error", _generic(status)))
    caller = getattr(request, "token_caller", None)
    client_id = caller.client_id if caller is not None and error in AUTHENTICATED_REFUSALS else ""
    return Outcome(endpoint=endpoint, status=status, outcome=error, client_id=client_id)
