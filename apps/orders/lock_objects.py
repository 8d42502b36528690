"""Row locks for orders.

Project-wide lock order — every transaction that locks more than one kind of row takes them in
this order, and several rows of one kind in ascending primary key, so two transactions can never
wait on each other:

    1. orders.Order            (apps.orders.lock_objects)
    2. orders.OrderHold        (apps.orders.lock_objects)
    3. approvals.ApprovalRequest (apps.approvals.lock_objects), after its order
    4. inventory.StockLevel    (apps.inventory.lock_objects), all levels an operation needs in
                               one statement, ordered by pk

Lines of an order are never locked: they change only with their order, which is locked first;
so are an approval request's steps, assignments and decisions, which change only with their
request; and so are shipments (apps.fulfillment), which change only under their order's lock.
The lock_objects modules are the only callers of select_for_update. On SQLite
the lock is the database write lock taken at BEGIN (transaction_mode IMMEDIATE).
"""
from functools import cache

from apps.core.db import instances_from_row, prepared_rows, select_columns, uses_postgresql
from apps.customers.models import Customer

from .errors import HoldNotFound, OrderNotFound
from .models import Order, OrderHold, Shop


@cache
def _lock_order_sql() -> str:
    # Built from the models once per process, so it follows their fields; FOR UPDATE OF o as below.
    return (f"SELECT {select_columns(Order, 'o')}, {select_columns(Shop, 's')}, {select_columns(Customer, 'c')} "
            f"FROM {Order._meta.db_table} o JOIN {Shop._meta.db_table} s ON s.id = o.shop_id "
            f"JOIN {Customer._meta.db_table} c ON c.id = o.customer_id WHERE o.id = %s FOR UPDATE OF o")


def lock_order(order_id: int) -> Order:
    # of=self: without it PostgreSQL also locks the joined shop row, and every order of a shop
    # would queue behind every other one.
    if uses_postgresql():
        # The hottest lock of all (every transition, every reservation): a prepared statement
        # instead of compiling the same ORM query each time (apps.core.db).
        rows = prepared_rows(_lock_order_sql(), [order_id])
        if not rows:
            raise OrderNotFound(details={"order_id": order_id})
        order, shop, customer = instances_from_row(rows[0], Order, Shop, Customer)
        Order._meta.get_field("shop").set_cached_value(order, shop)
        Order._meta.get_field("customer").set_cached_value(order, customer)
        return order
    order = (Order.objects.select_for_update(of=("self",)).select_related("shop", "customer")
             .filter(pk=order_id).first())
    if order is None:
        raise OrderNotFound(details={"order_id": order_id})
    return order


def lock_orders(order_ids) -> list[Order]:
    return list(Order.objects.select_for_update(of=("self",)).select_related("shop", "customer")
                .filter(pk__in=list(order_ids)).order_by("pk"))


def lock_hold(*, order_id: int, hold_id: int) -> OrderHold:
    hold = OrderHold.objects.select_for_update(of=("self",)).filter(pk=hold_id, order_id=order_id).first()
    if hold is None:
        raise HoldNotFound(details={"hold_id": hold_id})
    return hold
