from django.db import migrations


def install(apps, schema_editor):
    from apps.core.schedules import install_schedules

    install_schedules(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0002_batch_stockalert_stocklevel_reservation_stockmove_and_more"),
        ("orders", "0002_shopwarehouse_order_payment_due_at_and_more"),
        ("django_q", "__latest__"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
