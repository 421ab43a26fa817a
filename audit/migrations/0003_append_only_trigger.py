"""On PostgreSQL, refuse UPDATE and DELETE of audit rows, except the retention purge.

The purge runs `SELECT set_config('authportal.audit_purge', 'on', true)` (transaction-local) before it
deletes; nothing else in the application sets it. The trigger stops the application and mistakes, not
the database owner (who can drop it); the signed checkpoints are what make tampering by the owner show.
TRUNCATE is left alone because Django's test flush uses it; deny TRUNCATE to the application's role.
SQLite has no such trigger: there the application's own discipline and the checkpoints remain.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('authportal.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_TABLE_NAME = 'audit_auditcheckpoint' AND TG_OP = 'UPDATE'
       AND current_setting('authportal.audit_purge', true) = 'on' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

TABLES = ("audit_auditevent", "audit_auditcheckpoint")


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
        )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS audit_append_only()")


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_search_indexes_checkpoints")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
