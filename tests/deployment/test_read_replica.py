"""A read replica for the audit log's reports: with DATABASE_REPLICA_URL set, audit search and export read
from it, and everything they write (the `audit.exported` row) still goes to the primary.

The replica here is a read-only copy of the test database taken at one moment (pg_dump into a database
whose transactions are read-only, as on a hot standby), then left behind: an event recorded on the primary
afterwards is missing from it, as from a replica that lags. What a process reads tells which database it
read; a write sent to the replica would fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection, transaction

from audit.actor import SYSTEM
from audit.models import AuditEvent
from audit.recording import audit_change
from tests.servers import ROOT, free_port, server_environment

pytestmark = pytest.mark.django_db(transaction=True)

SEARCH = """
from audit.selectors import AuditFilter, audit_search
page = audit_search(filters=AuditFilter.from_params({"events": ["service.updated"]}))
print(",".join(event.subject for event in page.events))
"""


@pytest.fixture
def replica_url():
    """A read-only copy of the test database as it is now, as a PostgreSQL URL; dropped afterwards."""
    if connection.vendor != "postgresql":
        pytest.skip("a read replica is a PostgreSQL set-up")
    db = connection.settings_dict
    server = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}"
    name = f"{db['NAME']}_replica"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
        dump = subprocess.run(
            ["pg_dump", "--no-owner", f"{server}/{db['NAME']}"], check=True, capture_output=True
        )
        subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=1", f"{server}/{name}"],
            input=dump.stdout,
            check=True,
            capture_output=True,
        )
        admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    yield f"{server}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def probe(subject: str) -> None:
    with transaction.atomic():
        audit_change(actor=SYSTEM, event="service.updated", subject=f"service:{subject}")


@pytest.fixture
def primary_and_lagging_replica(request):
    """One probe event on both databases, then one recorded on the primary only."""
    probe("before-the-copy")
    url = request.getfixturevalue("replica_url")
    probe("after-the-copy")
    return url


def run_with_replica(tmp_path: Path, replica: str, *args: str) -> subprocess.CompletedProcess:
    env = {**server_environment(tmp_path), "DATABASE_REPLICA_URL": replica}
    return subprocess.run(
        [*args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_audit_search_reads_the_replica(tmp_path, primary_and_lagging_replica):
    found = run_with_replica(
        tmp_path, primary_and_lagging_replica, sys.executable, "manage.py", "shell", "-v", "0", "-c", SEARCH
    )

    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == ["service:before-the-copy"]


def test_audit_search_reads_the_primary_without_a_replica(tmp_path):
    probe("before-the-copy")
    probe("after-the-copy")
    env = server_environment(tmp_path)
    found = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", SEARCH],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == ["service:after-the-copy,service:before-the-copy"]


def test_export_reads_the_replica_and_records_itself_on_the_primary(tmp_path, primary_and_lagging_replica):
    exported = run_with_replica(
        tmp_path,
        primary_and_lagging_replica,
        sys.executable,
        "manage.py",
        "export_audit",
        "--format",
        "jsonl",
        "--event",
        "service.updated",
    )

    assert exported.returncode == 0, exported.stderr
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    subjects = [record["subject"] for record in records if record.get("type") == "event"]
    assert subjects == ["service:before-the-copy"]
    # The export's own row is on the primary, the only database it could have been written to.
    assert (
        AuditEvent.objects.filter(event="audit.exported", details__rows=1, details__completed=True).count()
        == 1
    )


def test_a_replica_that_cannot_be_reached_leaves_reports_on_the_primary(tmp_path):
    probe("before-the-copy")
    probe("after-the-copy")
    nowhere = f"postgres://postgres@127.0.0.1:{free_port()}/replica"  # nothing listens there
    found = run_with_replica(tmp_path, nowhere, sys.executable, "manage.py", "shell", "-v", "0", "-c", SEARCH)

    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == ["service:after-the-copy,service:before-the-copy"]
    assert "the read replica cannot be reached" in found.stderr
