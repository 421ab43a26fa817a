"""The call-graph page: auditors read the graph and its traffic, admins add, disable and remove edges."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from audit.recording import audit_record
from clients.models import DelegationEdge
from clients.services import ScopeMapping, ScopeSpec, delegation_edge_add, service_register
from portal.charts import call_graph, graph_layers


@pytest.fixture
def orders_and_payments(db):
    orders = service_register(
        name="ms_orders",
        audience="https://orders.internal",
        scopes=[ScopeSpec("orders:read"), ScopeSpec("orders:write")],
    )
    payments = service_register(
        name="ms_payments",
        audience="https://payments.internal",
        scopes=[ScopeSpec("payments:charge"), ScopeSpec("payments:read")],
    )
    return orders, payments


@pytest.fixture
def edge(orders_and_payments) -> DelegationEdge:
    orders, payments = orders_and_payments
    return delegation_edge_add(
        from_service=orders,
        to_service=payments,
        mappings=[ScopeMapping("orders:write", "payments:charge")],
        description="checkout charges the card",
    )


def add_form(**overrides) -> dict[str, str]:
    return {
        "from_service": "ms_orders",
        "to_service": "ms_payments",
        "mappings": "orders:write=payments:charge\norders:read=payments:read",
        "max_depth": "2",
        "description": "checkout",
    } | overrides


def test_an_auditor_reads_the_graph_and_each_edges_traffic_but_no_change_form(auditor_client, edge):
    audit_record(event="token.exchanged", actor="x", subject="client:x", details={"edge": edge.label})
    audit_record(event="token.exchanged", actor="x", subject="client:x", details={"edge": edge.label})
    audit_record(event="token.denied", actor="x", subject="client:x", details={"edge": edge.label})
    response = auditor_client.get(reverse("portal:call_graph"))
    assert response.status_code == 200
    html = response.content.decode()
    row = re.search(rf'<tr id="edge-row-{edge.pk}">.*?</tr>', html, re.S).group(0)
    assert '<code class="nowrap">orders:write=payments:charge</code>' in row
    assert "checkout charges the card" in row
    assert ">2</a>" in row and ">1</a>" in row  # exchanges, refusals
    assert "event=token.exchanged&amp;edge=ms_orders-%3Ems_payments" in row
    assert "event=token.denied&amp;edge=ms_orders-%3Ems_payments" in row
    assert "Add an edge" not in html and "data-confirm" not in html


def test_the_svg_draws_each_service_as_a_labelled_node_and_a_disabled_edge_dashed(admin_client, edge):
    orders, payments = edge.from_service, edge.to_service
    service_register(name="ms_ledger", audience="https://ledger.internal", scopes=[ScopeSpec("ledger:write")])
    ledger_edge = delegation_edge_add(
        from_service=payments,
        to_service=payments.__class__.objects.get(name="ms_ledger"),
        mappings=[ScopeMapping("payments:charge", "ledger:write")],
    )
    admin_client.post(reverse("portal:edge_set_enabled", args=[ledger_edge.pk]), {"enabled": "0"})
    html = admin_client.get(reverse("portal:call_graph")).content.decode()
    svg = re.search(r'<svg class="call-graph".*?</svg>', html, re.S).group(0)
    for name in ("ms_orders", "ms_payments", "ms_ledger"):
        assert f">{name}</text>" in svg
    assert f'href="{reverse("portal:service_detail", args=[orders.pk])}"' in svg
    enabled = re.search(rf'<g class="edge" id="edge-{edge.pk}">.*?</g>', svg, re.S).group(0)
    disabled = re.search(rf'<g class="edge off" id="edge-{ledger_edge.pk}">.*?</g>', svg, re.S).group(0)
    assert "stroke-dasharray" not in enabled and "orders:write → payments:charge" in enabled
    assert 'stroke-dasharray="6 4"' in disabled and "payments:charge → ledger:write" in disabled


def test_an_admin_adds_an_edge_through_the_form_and_it_is_audited(admin_client, orders_and_payments):
    response = admin_client.post(reverse("portal:edge_create"), add_form())
    assert response.status_code == 302 and response["Location"] == reverse("portal:call_graph")
    edge = DelegationEdge.objects.get()
    assert edge.scope_map == {"orders:write": ["payments:charge"], "orders:read": ["payments:read"]}
    assert edge.max_depth == 2 and edge.description == "checkout"
    assert AuditEvent.objects.get(event="edge.added").actor == "alice-admin"
    page = admin_client.get(response["Location"]).content.decode()
    assert "Declared ms_orders-&gt;ms_payments (max depth 2)." in page


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"mappings": "orders:write"}, "mappings", "is not UPSTREAM_SCOPE=DOWNSTREAM_SCOPE"),
        ({"mappings": "payments:read=payments:charge"}, "mappings", "has no scope &#x27;payments:read&#x27;"),
        ({"to_service": "ms_orders", "mappings": "orders:write=orders:read"}, "to_service", "two different"),
        ({"max_depth": "0"}, "max_depth", "greater than or equal to 1"),
        ({"mappings": "  \n"}, "mappings", "required"),
    ],
)
def test_a_refused_edge_shows_the_reason_on_its_field(
    admin_client, orders_and_payments, overrides, field, message
):
    response = admin_client.post(reverse("portal:edge_create"), add_form(**overrides))
    assert response.status_code == 400
    form = response.context["form"]
    assert list(form.errors) == [field]
    assert message in response.content.decode()
    assert not DelegationEdge.objects.exists()


def test_a_duplicate_edge_is_refused_on_the_target_field(admin_client, edge):
    response = admin_client.post(reverse("portal:edge_create"), add_form())
    assert response.status_code == 400
    assert "already declared" in response.context["form"].errors["to_service"][0]


def test_an_admin_disables_enables_and_removes_an_edge_each_with_a_message(admin_client, edge):
    url = reverse("portal:edge_set_enabled", args=[edge.pk])
    response = admin_client.post(url, {"enabled": "0"}, follow=True)
    assert "Disabled ms_orders-&gt;ms_payments" in response.content.decode()
    edge.refresh_from_db()
    assert not edge.enabled
    admin_client.post(url, {"enabled": "0"})  # a replayed click changes nothing
    assert AuditEvent.objects.filter(event="edge.disabled").count() == 1
    admin_client.post(url, {"enabled": "1"})
    edge.refresh_from_db()
    assert edge.enabled
    html = admin_client.get(reverse("portal:call_graph")).content.decode()
    assert 'data-confirm="Remove ms_orders-&gt;ms_payments' in html
    response = admin_client.post(reverse("portal:edge_remove", args=[edge.pk]), follow=True)
    assert "Removed ms_orders-&gt;ms_payments" in response.content.decode()
    assert not DelegationEdge.objects.exists()
    assert AuditEvent.objects.get(event="edge.removed").actor == "alice-admin"


def test_an_auditor_changes_nothing(auditor_client, edge):
    assert auditor_client.post(reverse("portal:edge_create"), add_form()).status_code == 403
    assert auditor_client.post(reverse("portal:edge_set_enabled", args=[edge.pk]), {}).status_code == 403
    assert auditor_client.post(reverse("portal:edge_remove", args=[edge.pk])).status_code == 403
    edge.refresh_from_db()
    assert edge.enabled


def test_each_service_page_lists_its_inbound_and_outbound_edges(auditor_client, edge):
    orders, payments = edge.from_service, edge.to_service
    html = auditor_client.get(reverse("portal:service_detail", args=[orders.pk])).content.decode()
    assert "calls →" in html and f'href="{reverse("portal:service_detail", args=[payments.pk])}"' in html
    html = auditor_client.get(reverse("portal:service_detail", args=[payments.pk])).content.decode()
    assert "← called by" in html and f'href="{reverse("portal:service_detail", args=[orders.pk])}"' in html
    # Once, in the page's content: not in its <title> too.
    assert html.count("<h2>Call graph</h2>") == 1
    assert "<section" not in html.split("<title>", 1)[1].split("</title>", 1)[0]


def test_the_layout_is_layered_by_longest_path_and_survives_a_cycle():
    names = ["a", "b", "c", "d"]
    assert graph_layers(names, [("a", "b"), ("b", "c"), ("a", "c"), ("c", "a")]) == {
        "a": 0,
        "b": 1,
        "c": 2,
        "d": 0,
    }
    services = [(1, "a"), (2, "b")]
    edges = [(10, "a", "b", {"x": ["y"]}, True), (11, "b", "a", {"y": ["x"]}, False)]
    graph = call_graph(services, edges)
    assert graph == call_graph(list(reversed(services)), edges)  # the order of the rows does not matter
    forward, back = graph.arrows
    assert forward.path != back.path and forward.label_y != back.label_y  # they bend apart


def test_the_traffic_links_open_the_audit_log_at_that_edges_exchanges_and_refusals(auditor_client, edge):
    audit_record(event="token.exchanged", actor="x", subject="client:x", details={"edge": edge.label})
    audit_record(event="token.exchanged", actor="x", subject="client:x", details={"edge": "ms_a->ms_b"})
    audit_record(event="token.denied", actor="x", subject="client:x", details={"edge": edge.label})
    html = auditor_client.get(reverse("portal:call_graph")).content.decode()
    links = re.findall(r'href="(/[^"]*event=token\.(?:exchanged|denied)[^"]*)"', html)
    assert len(links) == 2
    for link in links:
        page = auditor_client.get(link.replace("&amp;", "&"))
        assert len(page.context["rows"]) == 1
        assert page.context["rows"][0].event.details["edge"] == edge.label


def test_with_no_edge_the_page_says_so(auditor_client, orders_and_payments):
    assert call_graph([], []).arrows == []
    html = auditor_client.get(reverse("portal:call_graph")).content.decode()
    assert "No edge is declared" in html and '<svg class="call-graph"' not in html
