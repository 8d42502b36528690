from django.db import migrations


def sync(apps, schema_editor):
    # Agents record complaints (orders.record_complaint), which return-reason suggestions read.
    from apps.accounts.roles import create_all_permissions, sync_roles

    create_all_permissions(apps)
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [("returns", "0004_reasonnode_keywords"), ("orders", "0013_complaint_permission"),
                    ("catalog", "0004_sku_category")]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
