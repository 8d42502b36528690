"""inventory_reserve_order() reads the order, its customer's shelf-life floor, its shop's default
warehouse and ordered warehouse list in one statement, and counts what it reserves in its FEFO loop
instead of asking again: five statements fewer per call (each one an executor start in the backend).
Measured on the bench database (1,000 SKUs, spread orders; BEGIN; call; ROLLBACK, calls interleaved
with the old text, 2,800 each): median 618.9 -> 604.6 µs of backend CPU per call.
"""
from django.db import migrations

from apps.inventory import db_functions


def install(apps, schema_editor):
    db_functions.install(schema_editor)


class Migration(migrations.Migration):

    dependencies = [("inventory", "0009_drop_stocklevel_sku_index")]

    # Going back leaves the current text in place: the rules are the same in both.
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
