"""Drop the single-column indexes that a composite index already leads with: every reservation and
ledger line wrote them (see orders 0017)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0004_sku_category'),
        ('inventory', '0005_reserve_order_function'),
        ('orders', '0016_order_number_prefix_index'),
    ]

    operations = [
        # Only the indexes go: Django's AlterField would also drop and re-add each foreign key,
        # which re-checks every row of the table under an exclusive lock.
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(
                [
                    "DROP INDEX IF EXISTS inventory_reservation_order_line_id_20079a7f",
                    "DROP INDEX IF EXISTS inventory_stockmove_sku_id_f8b40a51",
                ],
                reverse_sql=[
                    "CREATE INDEX inventory_reservation_order_line_id_20079a7f ON inventory_reservation (order_line_id)",
                    "CREATE INDEX inventory_stockmove_sku_id_f8b40a51 ON inventory_stockmove (sku_id)",
                ],
            )],
            state_operations=[
                migrations.AlterField(
                    model_name='reservation',
                    name='order_line',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='reservations', to='orders.orderline', verbose_name='order line'),
                ),
                migrations.AlterField(
                    model_name='stockmove',
                    name='sku',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='catalog.sku', verbose_name='SKU'),
                ),
            ],
        ),
    ]
