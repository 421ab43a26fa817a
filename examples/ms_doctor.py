"""ms_doctor: a small service that trusts AuthPortal for *who* calls and decides itself *what* they may do.

Authentication is the SDK's WSGI middleware (tokens verified locally against the portal's JWKS);
authorization is this file's own table of rules, by scope and by caller. Standard library only,
besides authportal_client.

    MS_DOCTOR_ISSUER=http://127.0.0.1:8000 MS_DOCTOR_CALLERS='{"<client_id>": "ms_admin"}' \\
        python examples/ms_doctor.py
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from authportal_client import Claims, Verifier
from authportal_client.wsgi import ENVIRON_KEY, BearerTokenMiddleware, insufficient_scope_response
from serving import ServiceSettings, respond, serve, speaker

DOCTORS = [
    {"id": 1, "name": "Dr. Ada Okafor", "speciality": "cardiology"},
    {"id": 2, "name": "Dr. Jonas Berg", "speciality": "neurology"},
]


@dataclass(frozen=True)
class Rule:
    method: str
    path: re.Pattern[str]
    scope: str
    callers: frozenset[str] | None = None  # names of the services allowed; None: any caller with the scope
    what: str = ""


RULES = [
    Rule("GET", re.compile(r"/doctors"), "doctors:read", what="list doctors"),
    Rule("POST", re.compile(r"/doctors"), "doctors:write", what="add a doctor"),
    Rule(
        "GET",
        re.compile(r"/doctors/\d+/schedule"),
        "doctors:read",
        frozenset({"ms_admin", "ms_college"}),
        "read a schedule",
    ),
    Rule(
        "GET", re.compile(r"/doctors/\d+/salary"), "doctors:read", frozenset({"ms_payroll"}), "read a salary"
    ),
]


say = speaker("ms_doctor")


def make_app(callers: dict[str, str]) -> Callable[..., Iterable[bytes]]:
    """The service itself, behind the middleware: `environ[ENVIRON_KEY]` holds verified Claims."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if path == "/health":
            return respond(start_response, "200 OK", {"ok": True})
        claims: Claims = environ[ENVIRON_KEY]
        caller = callers.get(claims.client_id, f"client {claims.client_id[:8]}…")
        rule = next((r for r in RULES if r.method == method and r.path.fullmatch(path)), None)
        if rule is None:
            return respond(start_response, "404 Not Found", {"error": "not_found"})
        if not claims.has_scope(rule.scope):
            say(f"{method} {path} by {caller}: refused, the token lacks {rule.scope}")
            return insufficient_scope_response(start_response, [rule.scope], realm="ms_doctor")
        if rule.callers is not None and caller not in rule.callers:
            say(
                f"{method} {path} by {caller}: refused, "
                f"only {', '.join(sorted(rule.callers))} may {rule.what}"
            )
            return respond(
                start_response,
                "403 Forbidden",
                {"error": "forbidden", "error_description": f"{caller} may not {rule.what}"},
            )
        say(f"{method} {path} by {caller} with {' '.join(sorted(claims.scopes))}: allowed ({rule.what})")
        if method == "POST":
            return respond(start_response, "201 Created", {"id": 3})
        if path.endswith("/schedule"):
            return respond(
                start_response, "200 OK", {"doctor": int(path.split("/")[2]), "on_call": ["Mon", "Thu"]}
            )
        return respond(start_response, "200 OK", DOCTORS)

    return app


def main() -> None:
    settings = ServiceSettings.from_environment("MS_DOCTOR", audience="https://doctors.internal", port=8001)
    verifier = Verifier(
        settings.issuer, settings.audience
    )  # keys from the issuer's metadata → jwks_uri, cached
    app = BearerTokenMiddleware(
        make_app(settings.callers), verifier, exempt_paths=["/health"], realm="ms_doctor"
    )
    serve(app, port=settings.port, say=say, serving=settings.serving)


if __name__ == "__main__":
    main()
