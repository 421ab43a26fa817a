"""An admin declares an edge through the call-graph form and sees it drawn. Real Chromium, real server."""

from __future__ import annotations

import pytest

from audit.recording import audit_record
from clients.services import (
    ScopeMapping,
    delegation_edge_add,
    delegation_edge_set_enabled,
)
from tests.browser.test_portal_in_chromium import sign_in
from tests.conftest import registered_service

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_adds_an_edge_through_the_form_and_sees_it_drawn(page, screenshot, live_server, admin_user):
    gateway = registered_service("ms_gateway", "shop:use")
    orders = registered_service("ms_orders", "orders:write", "orders:read")
    payments = registered_service("ms_payments", "payments:charge")
    ledger = registered_service("ms_ledger", "ledger:write")
    delegation_edge_add(
        from_service=gateway, to_service=orders, mappings=[ScopeMapping("shop:use", "orders:write")]
    )
    suspended = delegation_edge_add(
        from_service=payments, to_service=ledger, mappings=[ScopeMapping("payments:charge", "ledger:write")]
    )
    delegation_edge_set_enabled(edge=suspended, enabled=False)
    # A call back upstream closes a cycle across services: it is drawn bending back.
    refunds = delegation_edge_add(
        from_service=payments, to_service=orders, mappings=[ScopeMapping("payments:charge", "orders:read")]
    )
    for event in ("token.exchanged", "token.exchanged", "token.denied"):
        audit_record(event=event, actor="gateway", subject="client:gateway", details={"edge": refunds.label})

    sign_in(page, "alice-admin")
    page.click("nav >> text=Call graph")
    page.select_option("#id_from_service", "ms_orders")
    page.select_option("#id_to_service", "ms_payments")
    page.fill("#id_mappings", "orders:write=payments:charge")
    page.fill("#id_description", "checkout charges the card")
    page.click("button:has-text('Add edge')")
    page.wait_for_selector("text=Declared ms_orders->ms_payments")

    drawn = page.locator("svg.call-graph g.edge:not(.off)", has_text="orders:write → payments:charge")
    assert drawn.count() == 1
    assert page.locator("svg.call-graph g.edge.off path[stroke-dasharray]").count() == 1
    assert page.locator("svg.call-graph a.node text", has_text="ms_payments").count() == 1
    screenshot("call-graph")

    page.click("svg.call-graph a.node:has-text('ms_payments')")
    page.wait_for_selector("h1:has-text('ms_payments')")
    assert page.locator("td", has_text="← called by").count() == 1
