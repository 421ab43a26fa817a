"""The registry version's triggers on every registry table again, on SQLite.

SQLite cannot alter a column or add a constraint in place: Django rebuilds the table (a new one, the
rows copied, the old one dropped, the new one renamed), and a table's triggers go with the old one.
Migrations 0004 and 0007 rebuilt `clients_client` so, after 0003 had given it its triggers: on the
SQLite fallback, disabling a client, rotating its secret or changing its keys no longer moved the
registry version, and a process that had the client cached kept issuing it tokens. PostgreSQL alters
tables in place and kept its triggers; this migration does nothing there.

Any later migration that rebuilds a registry table on SQLite must end the same way:
`tests/clients/test_registry_triggers.py` migrates a fresh SQLite database and checks every table.
"""

from django.db import migrations

# Every table a change to which moves the registry version (0003, 0005, 0006).
REGISTRY_TABLES = (
    "clients_service",
    "clients_scope",
    "clients_client",
    "clients_grant",
    "clients_delegationedge",
    "clients_trustedissuer",
)
# 0003's upsert: a test flush may have emptied the counter's table.
BUMP = (
    "INSERT INTO clients_registryversion (id, version) VALUES (1, 2) "
    "ON CONFLICT (id) DO UPDATE SET version = clients_registryversion.version + 1"
)


def sqlite_triggers_recreate(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for table in REGISTRY_TABLES:
            for operation in ("insert", "update", "delete"):
                name = f"{table}_registry_version_{operation}"
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
                cursor.execute(f"CREATE TRIGGER {name} AFTER {operation.upper()} ON {table} BEGIN {BUMP}; END")


class Migration(migrations.Migration):
    dependencies = [("clients", "0007_client_public_keys")]

    operations = [migrations.RunPython(sqlite_triggers_recreate, migrations.RunPython.noop)]
