"""DelegationEdge, the declared call graph; like the rest of the registry, it moves RegistryVersion."""

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models

import clients.models

TABLE = "clients_delegationedge"
# As in 0003: an upsert, because a test flush may have emptied the counter's table.
BUMP = (
    "INSERT INTO clients_registryversion (id, version) VALUES (1, 2) "
    "ON CONFLICT (id) DO UPDATE SET version = clients_registryversion.version + 1"
)


def trigger_create(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The function is 0003's.
            cursor.execute(
                f"CREATE TRIGGER {TABLE}_registry_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {TABLE} FOR EACH STATEMENT EXECUTE FUNCTION clients_registry_version_bump()"
            )
        elif connection.vendor == "sqlite":
            for operation in ("INSERT", "UPDATE", "DELETE"):
                cursor.execute(
                    f"CREATE TRIGGER {TABLE}_registry_version_{operation.lower()} AFTER {operation} "
                    f"ON {TABLE} BEGIN {BUMP}; END"
                )


def trigger_drop(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_registry_version ON {TABLE}")
        elif connection.vendor == "sqlite":
            for operation in ("insert", "update", "delete"):
                cursor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_registry_version_{operation}")


class Migration(migrations.Migration):
    dependencies = [("clients", "0004_client_name_rules")]

    operations = [
        migrations.CreateModel(
            name="DelegationEdge",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "scope_map",
                    models.JSONField(default=dict, help_text="Upstream scope → the downstream scopes it allows"),
                ),
                (
                    "max_depth",
                    models.PositiveSmallIntegerField(
                        default=clients.models.default_delegation_max_depth,
                        help_text="Most actors in the chain of a token exchanged along this edge",
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(10),
                        ],
                    ),
                ),
                ("enabled", models.BooleanField(default=True)),
                ("description", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "from_service",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="edges_out", to="clients.service"
                    ),
                ),
                (
                    "to_service",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="edges_in", to="clients.service"
                    ),
                ),
            ],
            options={
                "ordering": ["from_service__name", "to_service__name"],
                "constraints": [
                    models.UniqueConstraint(fields=("from_service", "to_service"), name="delegation_edge_unique"),
                    models.CheckConstraint(
                        condition=models.Q(("from_service", models.F("to_service")), _negated=True),
                        name="delegation_edge_not_a_loop",
                    ),
                ],
            },
        ),
        migrations.RunPython(trigger_create, trigger_drop),
    ]
