from django.db import migrations


def sync(apps, schema_editor):
    from apps.accounts.roles import create_all_permissions, sync_roles

    create_all_permissions(apps)
    sync_roles(apps)


class Migration(migrations.Migration):
    """Declarations for the roles (apps.accounts.roles). After the fulfillment roles: sync_roles sets
    every role's whole set, so each permission it names must exist by then."""

    dependencies = [("customs", "0002_load_country_profiles"), ("fulfillment", "0005_roles")]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
