"""The call graph in the registry: add_edge, remove_edge, their audit rows and the registry version."""

from __future__ import annotations

import pytest
from django.core.management import CommandError

from audit.models import AuditEvent
from clients.models import DelegationEdge, RegistryVersion
from clients.services import ScopeSpec, delegation_edge_set_enabled, service_register
from tests.conftest import run_command


@pytest.fixture
def orders_and_payments(db):
    service_register(
        name="ms_orders",
        audience="https://orders.internal",
        scopes=[ScopeSpec("orders:read"), ScopeSpec("orders:write")],
    )
    service_register(
        name="ms_payments",
        audience="https://payments.internal",
        scopes=[ScopeSpec("payments:charge"), ScopeSpec("payments:read")],
    )


def version() -> int:
    return RegistryVersion.objects.get(pk=1).version


def test_add_edge_declares_the_edge_with_its_scope_map_in_one_audited_transaction(orders_and_payments):
    out = run_command(
        "add_edge",
        "ms_orders",
        "ms_payments",
        "--map",
        "orders:write=payments:charge",
        "--map",
        "orders:write=payments:read",
        "--map",
        "orders:read=payments:read",
        "--max-depth",
        "2",
    )
    assert "ms_orders->ms_payments" in out
    edge = DelegationEdge.objects.get()
    assert edge.scope_map == {
        "orders:write": ["payments:charge", "payments:read"],
        "orders:read": ["payments:read"],
    }
    assert edge.max_depth == 2 and edge.enabled
    row = AuditEvent.objects.get(event="edge.added")
    assert row.subject == "edge:ms_orders->ms_payments"
    assert row.actor.startswith("os:")  # the operator who ran it, as every command records
    assert row.details["scope_map"] == edge.scope_map
    assert row.details["max_depth"] == 2


def test_the_default_max_depth_is_three(orders_and_payments):
    run_command("add_edge", "ms_orders", "ms_payments", "--map", "orders:write=payments:charge")
    assert DelegationEdge.objects.get().max_depth == 3


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("payments:read=payments:charge", "'ms_orders' has no scope 'payments:read'"),
        ("orders:write=orders:read", "'ms_payments' has no scope 'orders:read'"),
        ("orders:write", "is not UPSTREAM_SCOPE=DOWNSTREAM_SCOPE"),
    ],
)
def test_add_edge_refuses_a_scope_that_is_not_the_right_services(orders_and_payments, mapping, message):
    with pytest.raises(CommandError, match=message):
        run_command("add_edge", "ms_orders", "ms_payments", "--map", mapping)
    assert not DelegationEdge.objects.exists()
    assert not AuditEvent.objects.filter(event="edge.added").exists()


def test_add_edge_refuses_a_loop_a_duplicate_an_unknown_service_and_no_mapping(orders_and_payments):
    with pytest.raises(CommandError, match="two different services"):
        run_command("add_edge", "ms_orders", "ms_orders", "--map", "orders:write=orders:read")
    with pytest.raises(CommandError, match="no service 'ms_nowhere'"):
        run_command("add_edge", "ms_orders", "ms_nowhere", "--map", "orders:write=payments:charge")
    with pytest.raises(CommandError, match="at least one scope mapping"):
        run_command("add_edge", "ms_orders", "ms_payments")
    with pytest.raises(CommandError, match="max_depth"):
        run_command(
            "add_edge",
            "ms_orders",
            "ms_payments",
            "--map",
            "orders:write=payments:charge",
            "--max-depth",
            "0",
        )
    run_command("add_edge", "ms_orders", "ms_payments", "--map", "orders:write=payments:charge")
    with pytest.raises(CommandError, match="already declared"):
        run_command("add_edge", "ms_orders", "ms_payments", "--map", "orders:read=payments:read")
    assert DelegationEdge.objects.count() == 1


def test_remove_edge_withdraws_it_and_audits_it(orders_and_payments):
    run_command("add_edge", "ms_orders", "ms_payments", "--map", "orders:write=payments:charge")
    assert "Removed" in run_command("remove_edge", "ms_orders", "ms_payments", "--actor", "carol")
    assert not DelegationEdge.objects.exists()
    row = AuditEvent.objects.get(event="edge.removed")
    assert (row.subject, row.actor) == ("edge:ms_orders->ms_payments", "carol")
    assert row.details["scope_map"] == {"orders:write": ["payments:charge"]}
    with pytest.raises(CommandError, match="no edge"):
        run_command("remove_edge", "ms_orders", "ms_payments")


def test_every_edge_change_moves_the_registry_version(orders_and_payments):
    # The token endpoint decides from caches that are good only while this version holds.
    before = version()
    run_command("add_edge", "ms_orders", "ms_payments", "--map", "orders:write=payments:charge")
    added = version()
    assert added > before
    edge = DelegationEdge.objects.select_related("from_service", "to_service").get()
    delegation_edge_set_enabled(edge=edge, enabled=False)
    disabled = version()
    assert disabled > added
    assert AuditEvent.objects.filter(event="edge.disabled", subject="edge:ms_orders->ms_payments").exists()
    DelegationEdge.objects.filter(pk=edge.pk).update(description="by plain SQL too")
    assert version() > disabled
    updated = version()
    run_command("remove_edge", "ms_orders", "ms_payments")
    assert version() > updated
