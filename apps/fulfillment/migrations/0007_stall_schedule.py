from django.db import migrations


def install(apps, schema_editor):
    # Installs every schedule in apps.core.schedules, the stall sweep (every 30 minutes) among them.
    from apps.core.schedules import install_schedules

    install_schedules(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("fulfillment", "0006_tracking_events_webhook_secret"),
        ("django_q", "__latest__"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
