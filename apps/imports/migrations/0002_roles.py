from django.db import migrations


def sync(apps, schema_editor):
    # Admins import legacy files (imports.add_importjob and the rest of the app's permissions).
    from apps.accounts.roles import create_all_permissions, sync_roles

    create_all_permissions(apps)
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [("imports", "0001_import_job"), ("orders", "0016_order_number_prefix_index")]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
