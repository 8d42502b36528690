"""The tables intake writes for every order carry no index another index already makes redundant
(each one is written on every INSERT)."""
import pytest
from django.db import connection


pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

INTAKE_TABLES = ["orders_order", "orders_orderline", "orders_orderevent", "orders_ordertag",
                 "inventory_reservation", "inventory_stockmove"]


def btree_indexes(table):
    """(name, columns, is_unique) of the table's plain (non-partial, non-expression) btree indexes."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT i.relname, ix.indisunique,
                   array(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, n)
                         JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum ORDER BY k.n)
            FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_am am ON am.oid = i.relam
            WHERE ix.indrelid = %s::regclass AND am.amname = 'btree' AND ix.indpred IS NULL
              AND ix.indexprs IS NULL""", [table])
        return [(name, list(columns), unique) for name, unique, columns in cursor.fetchall()]


@pytest.mark.parametrize("table", INTAKE_TABLES)
def test_no_index_is_covered_by_another(table):
    indexes = btree_indexes(table)
    redundant = [(name, other) for name, columns, unique in indexes if not unique
                 for other, other_columns, _ in indexes
                 if other != name and other_columns[:len(columns)] == columns]
    assert redundant == []


def test_the_lookups_keep_their_index():
    """What the dropped indexes served is served by the composite ones."""
    leading = {(table, columns[0]) for table in INTAKE_TABLES for _, columns, _ in btree_indexes(table)}
    assert {("orders_order", "shop_id"), ("orders_order", "customer_id"), ("orders_order", "warehouse_id"),
            ("orders_order", "phone_tail"), ("orders_orderline", "order_id"), ("orders_orderevent", "order_id"),
            ("orders_ordertag", "order_id"), ("orders_ordertag", "tag"), ("inventory_reservation", "order_line_id"),
            ("inventory_stockmove", "sku_id")} <= leading
