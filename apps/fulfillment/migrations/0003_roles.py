from django.db import migrations


def sync(apps, schema_editor):
    from apps.accounts.roles import create_all_permissions, sync_roles

    create_all_permissions(apps)
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [("fulfillment", "0002_load_carriers"), ("approvals", "0002_roles_schedule_immutable_decisions")]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
