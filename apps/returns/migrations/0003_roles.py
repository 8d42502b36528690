from django.db import migrations


def sync(apps, schema_editor):
    from apps.accounts.roles import create_all_permissions, sync_roles

    create_all_permissions(apps)
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [("returns", "0002_load_reasons"), ("customs", "0003_roles"), ("fulfillment", "0007_stall_schedule")]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
