from django.db import migrations


def setup(apps, schema_editor):
    from apps.accounts.roles import create_all_permissions, sync_roles
    from apps.core.schedules import install_schedules

    create_all_permissions(apps)
    sync_roles(apps)
    install_schedules(apps)


def immutable_decisions(apps, schema_editor):
    # A decision is evidence: PostgreSQL refuses to change or delete one, whoever asks.
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("""
        CREATE OR REPLACE FUNCTION approvals_decision_immutable() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'approval decisions are append-only' USING ERRCODE = 'restrict_violation';
        END;
        $$ LANGUAGE plpgsql;
        CREATE TRIGGER approvals_decision_immutable
            BEFORE UPDATE OR DELETE ON approvals_approvaldecision
            FOR EACH ROW EXECUTE FUNCTION approvals_decision_immutable();
    """)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP TRIGGER IF EXISTS approvals_decision_immutable ON approvals_approvaldecision;"
                          "DROP FUNCTION IF EXISTS approvals_decision_immutable();")


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0001_initial"),
        ("accounts", "0003_stock_roles"),
        ("orders", "0010_default_review_rules"),
        ("django_q", "__latest__"),
    ]

    operations = [
        migrations.RunPython(setup, migrations.RunPython.noop),
        migrations.RunPython(immutable_decisions, drop_trigger),
    ]
