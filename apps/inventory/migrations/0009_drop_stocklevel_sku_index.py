"""Drop the single-column index on inventory_stocklevel.sku_id: stocklevel_sku_warehouse
(sku_id, warehouse_id) leads with the same column, and every update of a level (each
reservation, release and issue) opens and locks all of the table's indexes.
"""
import django.db.models.deletion
from django.db import migrations, models

SKU_INDEX = "inventory_stocklevel_sku_id_67ff3442"


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0004_sku_category"),
        ("inventory", "0008_reserve_order_held_once"),
    ]

    operations = [
        # Only the index goes (see 0006): AlterField alone would also drop and re-add the foreign key.
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(
                f"DROP INDEX IF EXISTS {SKU_INDEX}",
                reverse_sql=f"CREATE INDEX {SKU_INDEX} ON inventory_stocklevel (sku_id)")],
            state_operations=[
                migrations.AlterField(
                    model_name="stocklevel",
                    name="sku",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                            related_name="+", to="catalog.sku", verbose_name="SKU"),
                ),
            ],
        ),
    ]
