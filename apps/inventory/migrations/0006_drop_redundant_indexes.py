"""Drop the single-column indexes that a composite index already leads with: every reservation and
ledger line wrote them (see orders 0017)."""

import django.db.models.deletion
from django.db import migrations, models

# (index, table, column) of each single-column index to drop.
REDUNDANT_INDEXES = [
    ("inventory_reservation_order_line_id_20079a7f", "inventory_reservation", "order_line_id"),
    ("inventory_stockmove_sku_id_f8b40a51", "inventory_stockmove", "sku_id"),
]
DROP_INDEXES = [f"DROP INDEX IF EXISTS {name}" for name, _table, _column in REDUNDANT_INDEXES]
RECREATE_INDEXES = [f"CREATE INDEX {name} ON {table} ({column})" for name, table, column in REDUNDANT_INDEXES]


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
            database_operations=[migrations.RunSQL(DROP_INDEXES, reverse_sql=RECREATE_INDEXES)],
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
