from django.db import migrations


def sync(apps, schema_editor):
    from apps.accounts.roles import create_all_permissions, sync_roles

    create_all_permissions(apps)
    sync_roles(apps)


class Migration(migrations.Migration):
    """Waves, scans and packages for the warehouse roles; address unlock for leads (and managers)."""

    dependencies = [("fulfillment", "0004_waves_picking_packing"), ("orders", "0012_address_lock")]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
