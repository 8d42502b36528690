from django.db import migrations


def sync(apps, schema_editor):
    # Private notes for customer service only; mark urgent; the finance and manager pages.
    from apps.accounts.roles import create_all_permissions, sync_roles

    create_all_permissions(apps)
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [("orders", "0014_cs_notes_and_workbench_permissions"), ("returns", "0005_roles")]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
