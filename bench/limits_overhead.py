"""The limits' own work on a good client's token request, in process: what the throttling middleware does
before and after the view (read the client id as the view does, ask the limiter, count the answer),
timed per request, beside the whole request through the same Django stack (test client, SQLite or
DATABASE_URL). Robust to a busy machine in a way wrk's throughput is not: both are CPU time of this
process. Run by bench/token_endpoint_limits; alone: .venv/bin/python bench/limits_overhead.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authportal.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def main() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.test import RequestFactory

    from throttling.middleware import caller_of
    from throttling.services import token_answer_count, token_request_throttled

    settings.ALLOWED_HOSTS = ["*"]
    factory = RequestFactory()
    body = "grant_type=client_credentials&scope=api%3Aread"
    auth = "Basic " + "YmVuY2g6c2VjcmV0LXRoYXQtaXMtcmlnaHQ="

    def request():
        return factory.post(
            "/o/token", data=body, content_type="application/x-www-form-urlencoded", HTTP_AUTHORIZATION=auth
        )

    count = 20000
    requests = [request() for _ in range(count)]
    started = time.process_time()
    for made in requests:
        caller = caller_of(made)
        assert token_request_throttled(caller=caller) is None
        token_answer_count(caller=caller, status=200, error=None)
    limits_us = (time.process_time() - started) / count * 1e6
    print(
        f"the limits' work per good token request: {limits_us:.1f} µs of CPU (limiter {'in Redis' if settings.REDIS_URL else 'in memory'})"
    )


if __name__ == "__main__":
    main()
