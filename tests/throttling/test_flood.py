"""The flood from the issue's proof, through the production server (tests/servers.py): bad-secret
requests from one client id while a good client asks at a steady rate. The good client is never
throttled, the audit rows written stay bounded, and the throttled counts add up to what was sent.
bench/token_flood runs it at 20,000 requests and prints the good client's p99, quiet and flooded."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from audit.models import AuditEvent
from keys.services import signing_key_active
from tests.conftest import basic_auth  # noqa: F401  (the suite's one way to write Basic credentials)
from tests.faults.conftest import wait_until
from tests.servers import granian_serving, server_environment
from tests.throttling.flood import flood

pytestmark = pytest.mark.django_db(transaction=True)

DOCTORS = "https://doctors.internal"
TOTAL = int(os.environ.get("AUTHPORTAL_FLOOD_REQUESTS", "4000"))
WINDOW = 5
CLIENT_FAILURES = 20
WORKERS = 2


@contextmanager
def flooding(tmp_path, ms_admin, ms_reports, *, workers: int, limits: dict[str, str], **options) -> Iterator:
    """ms_admin's bad secrets and ms_reports' good requests (tests/throttling/flood.py) through a server with
    `limits`; yields the flood's result while the server still runs."""
    signing_key_active()
    env = server_environment(tmp_path)
    with granian_serving(
        env=env, log=tmp_path / "granian.log", workers=workers, threads=4, extra_env=limits
    ) as port:
        yield flood(
            host="127.0.0.1",
            port=port,
            audience=DOCTORS,
            flood_client_id=ms_admin.client.client_id,
            good_client_id=ms_reports.client.client_id,
            good_secret=ms_reports.client_secret,
            **options,
        )


def test_a_flood_of_bad_secrets_leaves_a_good_client_alone_and_its_rows_bounded_and_counted(
    tmp_path, ms_admin, ms_reports
):
    limits = {
        "AUTHPORTAL_TRUSTED_PROXIES": "127.0.0.1",
        "AUTHPORTAL_THROTTLE_WINDOW_SECONDS": str(WINDOW),
        "AUTHPORTAL_THROTTLE_CLIENT_FAILURES": str(CLIENT_FAILURES),
    }
    with flooding(
        tmp_path, ms_admin, ms_reports, workers=WORKERS, limits=limits, total=TOTAL, quiet_requests=40
    ) as result:
        print("\n".join(result.lines()))
        flooded = AuditEvent.objects.filter(actor=ms_admin.client.client_id)

        def counted() -> int:
            return sum(
                row["count"]
                for row in flooded.filter(event="token.throttled").values_list("details", flat=True)
            )

        # The server's threads write each window's count once it has ended.
        try:
            wait_until(
                lambda: counted() == result.statuses.get(429, 0),
                timeout=WINDOW + 10,
                what="every count written",
            )
        except AssertionError:
            rows = list(AuditEvent.objects.filter(event="token.throttled").values_list("actor", "details"))
            raise AssertionError(f"{counted()} counted of {result.statuses}: {rows}") from None

    assert set(result.good_statuses) == {200}, result.good_statuses
    # A 503 is a bad request the overloaded machine could not decide within the 1 s deadline (no row).
    assert set(result.statuses) <= {401, 429, 503} and sum(result.statuses.values()) == TOTAL
    denied = flooded.filter(event="token.denied").count()
    throttled_rows = flooded.filter(event="token.throttled").count()
    assert denied == result.statuses.get(401, 0), "every 401 has its token.denied row"
    assert counted() == result.statuses.get(429, 0), "the throttled counts add up to the 429s sent"
    assert denied + counted() + result.statuses.get(503, 0) == TOTAL
    # Bounded by windows, not by requests: per window and worker, the limit's denials and one row.
    windows = math.ceil(result.seconds / WINDOW) + 1
    assert denied <= CLIENT_FAILURES * WORKERS * windows
    assert throttled_rows <= WORKERS * windows
    print(f"audit rows for {TOTAL} bad requests: {denied} token.denied + {throttled_rows} token.throttled")


def test_a_server_that_stops_writes_the_counts_of_windows_not_yet_ended(tmp_path, ms_admin, ms_reports):
    limits = {"AUTHPORTAL_THROTTLE_WINDOW_SECONDS": "3600", "AUTHPORTAL_THROTTLE_CLIENT_FAILURES": "5"}
    # One request at a time: exactly the limit's 401s, then 429s.
    with flooding(
        tmp_path, ms_admin, ms_reports, workers=1, limits=limits, total=200, threads=1, quiet_requests=2
    ) as result:
        assert not AuditEvent.objects.filter(event="token.throttled").exists(), "the window has not ended"
    (row,) = AuditEvent.objects.filter(event="token.throttled")
    assert result.statuses == {401: 5, 429: 195}
    assert row.details["count"] == 195 and row.actor == ms_admin.client.client_id
