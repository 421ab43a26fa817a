"""Keyset search for the portal: newest first, stable pages, every filter."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.recording import audit_record
from audit.selectors import AuditFilter, audit_cursor_decode, audit_cursor_encode, audit_search

from .conftest import T0, write_events


def all_pages(filters: AuditFilter, limit: int) -> list[list[int]]:
    pages, before = [], None
    while True:
        page = audit_search(filters=filters, before=before, limit=limit)
        pages.append([event.id for event in page.events])
        if page.next_before is None:
            return pages
        before = page.next_before


def test_pages_walk_every_event_once_newest_first_even_with_equal_times(db):
    write_events(7, step=timedelta(0))  # seven events at the same instant: the id breaks the tie
    write_events(6, start=T0 + timedelta(hours=1))
    pages = all_pages(AuditFilter(), limit=5)
    flat = [event_id for page in pages for event_id in page]
    assert [len(page) for page in pages] == [5, 5, 3]
    assert len(set(flat)) == 13
    times = [(e.occurred_at, e.id) for e in audit_search(filters=AuditFilter(), limit=50).events]
    assert times == sorted(times, reverse=True)


def test_each_filter_narrows_the_search(db):
    write_events(3, actor="ms_admin", subject="client:ms_admin")
    write_events(2, actor="ms_other", subject="client:ms_other", start=T0 + timedelta(days=1))
    audit_record(
        event="token.denied", outcome="failure", actor="ms_admin", subject="client:ms_admin", occurred_at=T0
    )
    audit_record(event="client.created", actor="alice", subject="client:ms_admin", occurred_at=T0)

    def count(**params) -> int:
        return len(audit_search(filters=AuditFilter.from_params(params), limit=100).events)

    assert count() == 7
    assert count(client="ms_admin") == 5
    assert count(actor="alice") == 1
    assert count(outcome="failure") == 1
    assert count(event="token.issued") == 5
    assert count(events=["token.issued", "client.created"]) == 6
    assert count(event="client.*", client="ms_admin") == 1
    assert count(since="2026-03-02") == 2
    assert count(until="2026-03-02T00:00:00Z", subject="client:ms_other") == 0


def test_several_event_names_are_merged_in_order_across_pages(db):
    for minute in range(10):
        name = "token.issued" if minute % 2 else "token.denied"
        audit_record(event=name, outcome="success", occurred_at=T0 + timedelta(minutes=minute))
    audit_record(event="client.created", occurred_at=T0)
    pages = all_pages(AuditFilter(events=("token.*",)), limit=3)
    assert [len(p) for p in pages] == [3, 3, 3, 1]


def test_a_page_costs_one_query_per_event_name_whatever_its_depth(db):
    write_events(30)
    page = audit_search(filters=AuditFilter(), limit=10)
    with CaptureQueriesContext(connection) as queries:
        audit_search(filters=AuditFilter(), before=page.next_before, limit=10)
    assert len(queries) == 1
    assert "OFFSET" not in queries[0]["sql"].upper()


def test_a_page_cursor_survives_a_url_and_rejects_garbage(db):
    write_events(3)
    cursor = audit_search(filters=AuditFilter(), limit=1).next_before
    assert audit_cursor_decode(audit_cursor_encode(cursor)) == cursor
    with pytest.raises(ValueError):
        audit_cursor_decode("not-a-cursor")
