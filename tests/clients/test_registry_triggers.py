"""Every change to the registry moves its version, on the SQLite fallback as on PostgreSQL: the
token endpoint's caches of clients (a secret's hash, a key client's keys) are only as good as that."""

from __future__ import annotations

import json

from tests.project.processes import manage_py

CHECK = """
import importlib, json
from django.db import connection
from clients.models import Client, RegistryVersion
from clients.services import GrantSpec, ScopeSpec, client_register, client_set_enabled, service_register

tables = importlib.import_module("clients.migrations.0008_registry_triggers_on_sqlite").REGISTRY_TABLES
with connection.cursor() as cursor:
    cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    present = {name for (name,) in cursor.fetchall()}
missing = [f"{t}_registry_version_{op}" for t in tables for op in ("insert", "update", "delete")
           if f"{t}_registry_version_{op}" not in present]
service_register(name="ms_doctor", audience="https://doctors.internal", scopes=[ScopeSpec("doctors:read")])
client = client_register(name="ms_admin", grants=[GrantSpec("ms_doctor", "doctors:read")]).client
before = RegistryVersion.objects.get(id=1).version
client_set_enabled(client=Client.objects.get(pk=client.pk), enabled=False)
print(json.dumps({"missing": missing, "moved": RegistryVersion.objects.get(id=1).version > before}))
"""


def test_on_the_sqlite_fallback_every_registry_table_keeps_its_triggers_and_a_disabled_client_counts(
    tmp_path,
):
    fallback = ("DATABASE_URL", "REDIS_URL")  # as the README's commands run without them
    migrated = manage_py(tmp_path, "migrate", "--noinput", "-v", "0", without=fallback, timeout=180)
    assert migrated.returncode == 0, migrated.stderr
    checked = manage_py(tmp_path, "shell", "-c", CHECK, without=fallback)
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout.strip().splitlines()[-1]) == {"missing": [], "moved": True}
