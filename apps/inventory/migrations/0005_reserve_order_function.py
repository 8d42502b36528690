"""inventory_reserve_order(): an order's FEFO reservation as one PostgreSQL function (its text and
its rules: apps/inventory/db_functions.py). Installs the current text: a plpgsql body is checked
against the tables only when it runs."""
from django.db import migrations

from apps.inventory import db_functions


def install(apps, schema_editor):
    db_functions.install(schema_editor)


def uninstall(apps, schema_editor):
    db_functions.uninstall(schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ("inventory", "0004_stocklevel_location_code"),
        ("orders", "0016_order_number_prefix_index"),
        ("customers", "0002_customer_min_remaining_shelf_life_days"),
        ("catalog", "0002_sku_min_remaining_shelf_life_days_and_more"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
