"""Trusted user-token issuers, whose changes move the registry version like every registry change.

"""

from django.db import migrations, models

TABLE = "clients_trustedissuer"
# As in 0003: an upsert, since a test flush may have emptied the counter's table.
BUMP = (
    "INSERT INTO clients_registryversion (id, version) VALUES (1, 2) "
    "ON CONFLICT (id) DO UPDATE SET version = clients_registryversion.version + 1"
)


def triggers_create(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # clients_registry_version_bump() is 0003's function.
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


def triggers_drop(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_registry_version ON {TABLE}")
        elif connection.vendor == "sqlite":
            for operation in ("insert", "update", "delete"):
                cursor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_registry_version_{operation}")


class Migration(migrations.Migration):

    dependencies = [
        ('clients', '0005_delegation_edges'),
    ]

    operations = [
        migrations.CreateModel(
            name='TrustedIssuer',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('issuer', models.CharField(help_text='The `iss` of its tokens, exactly', max_length=255, unique=True)),
                ('slug', models.CharField(help_text='Names the issuer in `sub`: user:<slug>:<user id>', max_length=63, unique=True)),
                ('jwks_uri', models.CharField(blank=True, max_length=500)),
                ('jwks', models.JSONField(blank=True, null=True)),
                ('audience', models.CharField(help_text="Its tokens' `aud` must contain this", max_length=255)),
                ('user_claim', models.CharField(default='sub', max_length=64)),
                ('algorithms', models.JSONField(default=list)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['issuer'],
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('jwks_uri', ''), ('jwks__isnull', False)), models.Q(models.Q(('jwks_uri', ''), _negated=True), ('jwks__isnull', True)), _connector='OR'), name='trusted_issuer_one_key_source')],
            },
        ),
        migrations.RunPython(triggers_create, triggers_drop),
    ]
