"""ms_admin: a service that calls ms_doctor, then ms_orders, with tokens it gets from AuthPortal.

Each step prints what it did and what came back; the exit status is 0 when every answer was the
one the story expects (ms_admin holds doctors:read only, and is not ms_payroll). With
MS_ORDERS_URL, it then places an order three times, once for each way ms_orders may try to charge
it at ms_payments on ms_admin's behalf, and prints the three outcomes side by side.

    MS_ADMIN_ISSUER=… MS_ADMIN_CLIENT_ID=… MS_ADMIN_CLIENT_SECRET=… MS_DOCTOR_URL=… \\
        [MS_ORDERS_URL=…] python examples/ms_admin.py
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime

import jwt
from authportal_client import TokenClient

AUDIENCE = "https://doctors.internal"
ORDERS = "https://orders.internal"

# How ms_orders may call ms_payments for its caller, and how the story expects each outcome to begin.
PATTERNS = [
    ("forward", "forward ms_admin's token", "refused by ms_payments: 401 invalid_token (wrong audience)"),
    ("own", "its own token (god mode)", "refused by the portal: invalid_scope"),
    ("exchange", "exchange ms_admin's token", "accepted: charge ch_"),
]


def say(message: str) -> None:
    print(f"  ms_admin    │ {message}", flush=True)


def call(method: str, url: str, authorization: str | None) -> tuple[int, str, str]:
    """Status, WWW-Authenticate and body of one request."""
    data = b"{}" if method == "POST" else None
    request = urllib.request.Request(url, method=method, data=data)  # noqa: S310 (our loopback URL)
    if authorization:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            return response.status, "", response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers.get("WWW-Authenticate", ""), error.read().decode()


def main() -> int:
    issuer = os.environ["MS_ADMIN_ISSUER"]
    doctor = os.environ["MS_DOCTOR_URL"]
    tokens = TokenClient(issuer, os.environ["MS_ADMIN_CLIENT_ID"], os.environ["MS_ADMIN_CLIENT_SECRET"])

    token = tokens.get_token(resource=AUDIENCE)
    shown = jwt.decode(token, options={"verify_signature": False})  # for display only; ms_doctor verifies
    expires = datetime.fromtimestamp(shown["exp"], UTC).strftime("%H:%M:%S UTC")
    say(f"got a token from {issuer}/o/token: aud={shown['aud']} scope={shown['scope']!r} until {expires}")
    bearer = f"Bearer {token}"
    tampered = "Bearer " + token[:-8] + ("AAAAAAAA" if not token.endswith("AAAAAAAA") else "BBBBBBBB")

    steps = [
        ("list doctors (doctors:read)", "GET", "/doctors", bearer, 200),
        ("read a schedule (a caller ms_doctor allows)", "GET", "/doctors/1/schedule", bearer, 200),
        ("add a doctor (needs doctors:write)", "POST", "/doctors", bearer, 403),
        ("read a salary (only ms_payroll may)", "GET", "/doctors/1/salary", bearer, 403),
        ("list doctors without a token", "GET", "/doctors", None, 401),
        ("list doctors with a tampered token", "GET", "/doctors", tampered, 401),
    ]
    surprises = 0
    for what, method, path, authorization, expected in steps:
        status, challenge, body = call(method, doctor + path, authorization)
        verdict = "as expected" if status == expected else f"UNEXPECTED, wanted {expected}"
        surprises += status != expected
        detail = challenge or _short(body)
        say(f"{what}: {method} {path} → {status} {verdict}{'  ' + detail if detail else ''}")
    again = tokens.get_token(resource=AUDIENCE)
    say(
        f"asked for a token again: {'the cached one' if again == token else 'a new one'} (requests made: "
        f"{tokens.requests_made})"
    )
    if os.environ.get("MS_ORDERS_URL"):
        surprises += place_orders(tokens, os.environ["MS_ORDERS_URL"], os.environ["MS_ADMIN_CLIENT_ID"])
    return 1 if surprises else 0


def place_orders(tokens: TokenClient, orders_url: str, client_id: str) -> int:
    """Place one order per pattern; print the outcomes side by side. Returns the number of surprises."""
    bearer = tokens.authorization(resource=ORDERS)
    say(f"got a token for {ORDERS} (orders:write) and places an order three times")
    outcomes = []
    for how, what, expected in PATTERNS:
        status, _, body = call("POST", f"{orders_url}/orders?how={how}", bearer)
        outcomes.append((what, expected, _outcome(status, json.loads(body), client_id)))
    say("how ms_orders called ms_payments for ms_admin:")
    surprises = 0
    for what, expected, outcome in outcomes:
        verdict = "as expected" if outcome.startswith(expected) else f"UNEXPECTED, wanted {expected}"
        surprises += not outcome.startswith(expected)
        say(f"  {what:<27} → {outcome}  ({verdict})")
    return surprises


def _outcome(status: int, answer: dict, client_id: str) -> str:
    if status == 201:
        charge = answer["charge"]
        subject = "ms_admin" if charge["for"] == client_id else charge["for"]
        actors = " → ".join(actor[:8] + "…" for actor in charge["via"])
        return f"accepted: charge {charge['charge']} for sub={subject} via act={actors}, txn={charge['txn']}"
    if answer.get("refused_by") == "ms_payments":
        return f"refused by ms_payments: {answer['status']} {answer.get('error')} ({answer.get('error_description')})"
    if answer.get("refused_by") == "portal":
        return f"refused by the portal: {answer['error']} ({answer['error_description']})"
    return f"{status} {answer}"


def _short(body: str) -> str:
    try:
        document = json.loads(body)
    except ValueError:
        return body[:80]
    if isinstance(document, list):
        return f"{len(document)} doctors"
    return json.dumps(document)[:100]


if __name__ == "__main__":
    sys.exit(main())
