"""A property-based fuzz of /o/token through the production HTTP server (granian, as bin/run serves it).

Hostile raw requests (tests/oauth/hostile_requests.py), sent one at a time; every answer the
application gives is RFC 6749 JSON with `no-store`, never a 5xx, and comes with exactly one audit row
holding no secret. Derandomized, so that CI runs the same examples every time (1,000 of them, or
AUTHPORTAL_FUZZ_EXAMPLES); bench/fuzz_token runs the same requests at length.
"""

from __future__ import annotations

import itertools
import json
import os

import pytest
from hypothesis import HealthCheck, example, given, settings

from audit.models import AuditEvent
from keys.services import signing_key_active
from tests.oauth.hostile_requests import (
    AuditRow,
    Cast,
    answer_problems,
    audit_problems,
    exchange,
    known_faults,
    token_requests,
)
from tests.servers import granian_serving, server_environment

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = int(os.environ.get("AUTHPORTAL_FUZZ_EXAMPLES", "1000"))  # about 45 s here
_problem_types: dict[str, type[AssertionError]] = {}


def problem(name: str, detail: str) -> AssertionError:
    """An AssertionError of a type per problem class: Hypothesis then finds, shrinks and reports each
    class of fault on its own rather than stopping at the first."""
    if name not in _problem_types:
        _problem_types[name] = type(f"Problem{len(_problem_types)}", (AssertionError,), {})
    return _problem_types[name](f"{name}: {detail}")


@pytest.fixture
def token_server(tmp_path, ms_admin) -> int:
    signing_key_active()  # the server's first token must not race another to create the key
    # Every answer the application decides has its own row; the limits in front of it, which answer a
    # flood's 429s from memory and count them (tests/throttling), are set out of this fuzz's reach.
    out_of_reach = {
        "AUTHPORTAL_THROTTLE_CLIENT_FAILURES": "1000000",
        "AUTHPORTAL_THROTTLE_ADDRESS_FAILURES": "1000000",
    }
    with granian_serving(
        env=server_environment(tmp_path), log=tmp_path / "granian.log", extra_env=out_of_reach
    ) as port:
        yield port


def audit_rows_after(last_id: int) -> list[AuditRow]:
    rows = AuditEvent.objects.filter(id__gt=last_id).order_by("id")
    return [
        AuditRow(
            id=row.id,
            request_id=row.request_id,
            who=f"{row.actor} {row.subject}",
            details=json.dumps(row.details),
        )
        for row in rows
    ]


def test_every_answer_of_the_token_endpoint_is_rfc6749_json_with_one_audit_row(token_server, ms_admin):
    cast = Cast(
        client_id=ms_admin.client.client_id,
        client_secret=ms_admin.client_secret,
        audiences=("https://doctors.internal", "https://college.internal"),
        scopes=("doctors:read", "college:read"),
    )
    last_id = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    numbers = itertools.count()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(token_requests(cast))
    def every_answer(request):
        nonlocal last_id
        request_id = f"fuzz-{next(numbers)}" if request.request_id else None
        answer = exchange(token_server, request.raw(host=b"127.0.0.1", request_id=request_id or ""))
        rows = audit_rows_after(last_id)
        if rows:
            last_id = rows[-1].id
        for name in [
            *answer_problems(answer, method=request.method, request_id=request_id),
            *audit_problems(answer, rows, secrets=[cast.client_secret]),
        ]:
            raise problem(name, f"{answer.status} {answer.body[:300]!r}")

    for request in known_faults(cast):
        every_answer = example(request)(every_answer)
    every_answer()
