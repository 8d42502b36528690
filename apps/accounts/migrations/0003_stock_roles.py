from django.db import migrations


def sync(apps, schema_editor):
    from apps.accounts.roles import create_all_permissions, sync_roles

    create_all_permissions(apps)
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_roles"),
        ("inventory", "0002_batch_stockalert_stocklevel_reservation_stockmove_and_more"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
