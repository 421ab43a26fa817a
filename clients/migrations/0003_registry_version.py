"""The registry version counter, and the triggers that move it on every change to the registry."""

from django.db import migrations, models

TABLES = ("clients_service", "clients_scope", "clients_client", "clients_grant")
# An upsert, not an UPDATE: a test flush may have emptied the counter's table.
BUMP = (
    "INSERT INTO clients_registryversion (id, version) VALUES (1, 2) "
    "ON CONFLICT (id) DO UPDATE SET version = clients_registryversion.version + 1"
)


def triggers_create(apps, schema_editor):
    connection = schema_editor.connection
    apps.get_model("clients", "RegistryVersion").objects.get_or_create(id=1, defaults={"version": 1})
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION clients_registry_version_bump() RETURNS trigger LANGUAGE plpgsql "
                f"AS $$ BEGIN {BUMP}; RETURN NULL; END $$"
            )
            for table in TABLES:
                cursor.execute(
                    f"CREATE TRIGGER {table}_registry_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                    f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION clients_registry_version_bump()"
                )
        elif connection.vendor == "sqlite":
            for table in TABLES:
                for operation in ("INSERT", "UPDATE", "DELETE"):
                    cursor.execute(
                        f"CREATE TRIGGER {table}_registry_version_{operation.lower()} AFTER {operation} "
                        f"ON {table} BEGIN {BUMP}; END"
                    )


def triggers_drop(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in TABLES:
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_registry_version ON {table}")
            cursor.execute("DROP FUNCTION IF EXISTS clients_registry_version_bump()")
        elif connection.vendor == "sqlite":
            for table in TABLES:
                for operation in ("insert", "update", "delete"):
                    cursor.execute(f"DROP TRIGGER IF EXISTS {table}_registry_version_{operation}")


class Migration(migrations.Migration):
    dependencies = [("clients", "0002_secret_rotation")]

    operations = [
        migrations.CreateModel(
            name="RegistryVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("version", models.BigIntegerField(default=1)),
            ],
        ),
        migrations.RunPython(triggers_create, triggers_drop),
    ]
