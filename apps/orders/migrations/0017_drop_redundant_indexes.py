"""Drop the single-column indexes that a composite index already leads with (and phone_tail's
LIKE twin: it is only ever compared whole). Intake writes every one of them for each order, line,
event and tag; the names are Django's, the same on SQLite and PostgreSQL (the _like ones exist on
PostgreSQL only, hence IF EXISTS).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (index, table, column) of each single-column index to drop.
REDUNDANT_INDEXES = [
    ("orders_order_customer_id_0b76f6a4", "orders_order", "customer_id"),
    ("orders_order_shop_id_b562fb3d", "orders_order", "shop_id"),
    ("orders_order_warehouse_id_110eb3b3", "orders_order", "warehouse_id"),
    ("orders_order_phone_tail_88563352", "orders_order", "phone_tail"),
    ("orders_orderevent_order_id_b26297f3", "orders_orderevent", "order_id"),
    ("orders_orderline_order_id_17f8f3ef", "orders_orderline", "order_id"),
    ("orders_ordertag_order_id_7cfdd7e6", "orders_ordertag", "order_id"),
    ("orders_ordertag_tag_f4e490f0", "orders_ordertag", "tag"),
]
# PostgreSQL only: the varchar_pattern_ops twins Django adds beside a CharField's index.
LIKE_TWINS = ["orders_order_phone_tail_88563352_like", "orders_ordertag_tag_f4e490f0_like"]
DROP_INDEXES = [f"DROP INDEX IF EXISTS {name}" for name, _table, _column in REDUNDANT_INDEXES]
DROP_INDEXES += [f"DROP INDEX IF EXISTS {name}" for name in LIKE_TWINS]
RECREATE_INDEXES = [f"CREATE INDEX {name} ON {table} ({column})" for name, table, column in REDUNDANT_INDEXES]


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0002_customer_min_remaining_shelf_life_days'),
        ('inventory', '0006_drop_redundant_indexes'),
        ('orders', '0016_order_number_prefix_index'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='order',
            index=models.Index(fields=['phone_tail'], name='order_phone_tail'),
        ),
        # Only the indexes go: Django's AlterField would also drop and re-add each foreign key,
        # which re-checks every row of the table under an exclusive lock.
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(DROP_INDEXES, reverse_sql=RECREATE_INDEXES)],
            state_operations=[
                migrations.AlterField(
                    model_name='order',
                    name='customer',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='orders', to='customers.customer', verbose_name='customer'),
                ),
                migrations.AlterField(
                    model_name='order',
                    name='phone_tail',
                    field=models.CharField(editable=False, max_length=4, verbose_name='phone last four digits'),
                ),
                migrations.AlterField(
                    model_name='order',
                    name='shop',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='orders', to='orders.shop', verbose_name='shop'),
                ),
                migrations.AlterField(
                    model_name='order',
                    name='warehouse',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='orders', to='inventory.warehouse', verbose_name='warehouse'),
                ),
                migrations.AlterField(
                    model_name='orderevent',
                    name='order',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='events', to='orders.order', verbose_name='order'),
                ),
                migrations.AlterField(
                    model_name='orderline',
                    name='order',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='orders.order', verbose_name='order'),
                ),
                migrations.AlterField(
                    model_name='ordertag',
                    name='order',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='tags', to='orders.order', verbose_name='order'),
                ),
                migrations.AlterField(
                    model_name='ordertag',
                    name='tag',
                    field=models.SlugField(db_index=False, max_length=32, verbose_name='tag'),
                ),
            ],
        ),
    ]
