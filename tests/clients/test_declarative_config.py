"""`manage.py apply FILE` and `export_config`: the registry as a file, made true in one transaction."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from clients.models import Client, DelegationEdge, Grant, Scope, Service, TrustedIssuer
from clients.selectors import AuthenticatedClient, client_authenticate

pytestmark = pytest.mark.django_db

FILE = """\
version: 1
services:
  - name: ms_orders
    audience: https://orders.internal
    description: Orders
    scopes:
      - {name: orders:write, description: Place an order}
  - name: ms_payments
    audience: https://payments.internal
    owner_contact: payments@example.com
    scopes:
      - name: payments:charge
      - name: payments:read
clients:
  - name: orders-svc
    service: ms_orders
    grants: []
  - name: shop
    grants: [ms_orders:orders:write]
    access_token_lifetime: 300
edges:
  - from: ms_orders
    to: ms_payments
    scope_map: {orders:write: [payments:charge]}
    max_depth: 2
trusted_issuers:
  - issuer: https://login.example.com
    audience: https://gateway.internal
    jwks_uri: https://login.example.com/jwks
"""


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except SystemExit as exit:
        return int(exit.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def export() -> str:
    return run("export_config")[1]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(FILE)
    return path


def test_apply_creates_everything_in_one_transaction_with_one_event_holding_the_plan(config):
    code, out, _ = run("apply", str(config))
    assert code == 0
    assert "+ create service ms_orders" in out and "+ create edge ms_orders->ms_payments" in out
    assert set(Service.objects.values_list("name", flat=True)) == {"ms_orders", "ms_payments"}
    shop = Client.objects.get(name="shop")
    assert shop.access_token_lifetime == 300
    assert list(Grant.objects.filter(client=shop).values_list("scope__name", flat=True)) == ["orders:write"]
    assert DelegationEdge.objects.get().scope_map == {"orders:write": ["payments:charge"]}
    assert TrustedIssuer.objects.get().slug == "login-example-com"
    applied = AuditEvent.objects.get(event="config.applied")
    assert applied.details["counts"]["create"] == len(applied.details["plan"])
    # ... and every change its own row, as from the portal
    assert AuditEvent.objects.filter(event="client.created").count() == 2
    assert AuditEvent.objects.filter(event="edge.added").count() == 1


def test_new_clients_secrets_are_shown_once_and_work(config):
    out = run("apply", str(config))[1]
    line = next(line for line in out.splitlines() if line.strip().startswith("shop:"))
    client_id, secret = line.split()[2], line.split()[4]
    assert isinstance(client_authenticate(client_id=client_id, client_secret=secret), AuthenticatedClient)
    assert secret not in export()
    assert not AuditEvent.objects.filter(details__icontains=secret).exists()


def test_secrets_can_go_to_a_file_only_its_owner_reads(config, tmp_path):
    secrets = tmp_path / "secrets.txt"
    out = run("apply", str(config), "--secrets-file", str(secrets))[1]
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    names = [line.split()[0] for line in secrets.read_text().splitlines()]
    assert names == ["orders-svc", "shop"]
    assert secrets.read_text().split()[2] not in out


def test_a_second_apply_plans_nothing_and_check_says_so(config):
    run("apply", str(config))
    rows = AuditEvent.objects.count()
    assert run("apply", str(config))[1].strip() == "The registry matches the file: nothing to do."
    assert run("apply", str(config), "--check")[0] == 0
    assert AuditEvent.objects.count() == rows


def test_check_and_dry_run_change_nothing(config):
    code, _, err = run("apply", str(config), "--check")
    assert code == 2 and "+ create service ms_orders" in err
    assert "Dry run: nothing changed." in run("apply", str(config), "--dry-run")[1]
    assert not Service.objects.exists() and not AuditEvent.objects.exists()


def test_round_trip_export_apply_on_an_empty_registry_export_is_identical(config, tmp_path):
    run("apply", str(config))
    first = export()
    exported = tmp_path / "exported.yaml"
    exported.write_text(first)
    # an empty registry: everything the file names goes, then comes back from the export
    for client in Client.objects.all():
        client.delete()
    Service.objects.all().delete()
    TrustedIssuer.objects.all().delete()
    assert export() == "version: 1\nservices: []\nclients: []\nedges: []\ntrusted_issuers: []\n"
    run("apply", str(exported))
    assert export() == first
    assert run("apply", str(exported), "--check")[0] == 0


def test_changes_and_prune(config, tmp_path):
    run("apply", str(config))
    changed = tmp_path / "changed.yaml"
    changed.write_text(
        FILE.replace("access_token_lifetime: 300", "access_token_lifetime: 900")
        .replace("grants: [ms_orders:orders:write]", "grants: []")
        .replace("max_depth: 2", "max_depth: 3")
        .split("trusted_issuers:")[0]
    )
    out = run("apply", str(changed))[1]
    assert "~ change client shop (access_token_lifetime: 300 -> 900)" in out
    assert "- delete grant shop ms_orders:orders:write" in out
    assert TrustedIssuer.objects.exists()  # not listed, but no --prune
    assert DelegationEdge.objects.get().max_depth == 3
    out = run("apply", str(changed), "--prune")[1]
    assert "- delete trusted_issuer https://login.example.com" in out
    assert not TrustedIssuer.objects.exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("max_depth: 2", "max_depth: two"), "line 25, edges.0.max_depth: must be a whole number"),
        (("    grants: []", "    grantz: []"), "line 17, clients.0.grantz: unknown field"),
        (
            ("[ms_orders:orders:write]", "[ms_orders:orders:read]"),
            "line 19, clients.1.grants: The service 'ms_orders' has no scope 'orders:read'",
        ),
        (
            ("- name: ms_payments", "- name: Payments!"),
            "line 8, services.1.name: 'Payments!' is not a service name",
        ),
        (("description: Orders", "description: [Orders"), "line 6: not YAML"),
    ],
)
def test_a_bad_file_names_its_line_and_field_and_changes_nothing(config, edit, message):
    config.write_text(FILE.replace(*edit))
    with pytest.raises(CommandError) as refused:
        run("apply", str(config))
    assert message in str(refused.value)
    assert not Service.objects.exists() and not Scope.objects.exists() and not AuditEvent.objects.exists()


def test_prune_never_deletes_the_admin_apis_own_service(config):
    from api.services import API_SERVICE_NAME, api_service_ensure
    from audit.actor import SYSTEM

    api_service_ensure(actor=SYSTEM)
    out = run("apply", str(config), "--prune")[1]
    assert API_SERVICE_NAME not in out
    assert Service.objects.filter(name=API_SERVICE_NAME).exists()
