from django.db import migrations


def install(apps, schema_editor):
    from apps.core.schedules import install_schedules

    install_schedules(apps)


class Migration(migrations.Migration):
    dependencies = [("orders", "0007_default_audit_rules"), ("inventory", "0003_schedules")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
