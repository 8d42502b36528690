"""Races on real PostgreSQL: the last units, crossing line orders, payment against expiry."""
import random
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from apps.inventory import services
from apps.inventory.models import Reservation, StockLevel
from apps.orders import services as order_services
from apps.orders.errors import TransitionNotAllowed
from apps.orders.models import Order, OrderHold
from apps.orders.tasks import expire_unpaid_orders
from tests.factories import SKUFactory
from tests.inventory.conftest import assert_ledger_consistent, days
from tests.orders.test_concurrency_pg import run_together

# Committed data; serialized_rollback: see tests/conftest.py.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_32_threads_racing_for_the_last_10_units_over_3_batches(warehouse, make_order):
    sku = SKUFactory(batch_tracked=True, shelf_life_days=365)
    for lot, qty, expiry in (("A", 3, 60), ("B", 3, 90), ("C", 4, 120)):
        services.stock_receive(warehouse_id=warehouse.pk, sku_id=sku.pk, quantity=qty, actor=None, lot_number=lot,
                               expires_on=days(expiry))
    orders = [make_order({sku: 1}) for _ in range(32)]

    results = run_together(32, lambda i: services.stock_reserve_order(order_id=orders[i].pk, actor=None).reserved)

    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 10
    assert sum(StockLevel.objects.values_list("reserved", flat=True)) == 10
    assert sum(Reservation.objects.filter(state="active").values_list("quantity", flat=True)) == 10
    assert OrderHold.objects.filter(type="out_of_stock").count() == 22
    assert set(StockLevel.objects.values_list("on_hand", "reserved")) == {(3, 3), (4, 4)}
    assert_ledger_consistent()


def test_orders_with_crossing_line_orders_never_deadlock(warehouse, make_order):
    skus = [SKUFactory() for _ in range(4)]
    for sku in skus:
        services.stock_receive(warehouse_id=warehouse.pk, sku_id=sku.pk, quantity=1000, actor=None)
    rng = random.Random(7)
    orders = []
    for _ in range(24):
        picked = rng.sample(skus, 3)  # each order lists its SKUs in its own order
        orders.append(make_order({sku: rng.randint(1, 5) for sku in picked}))

    def reserve_then_cancel(i):
        services.stock_reserve_order(order_id=orders[i].pk, actor=None)
        if i % 3 == 0:
            order_services.order_transition(order_id=orders[i].pk, name="cancel", actor=None)
        return "ok"

    results = run_together(len(orders), reserve_then_cancel)

    assert results == ["ok"] * len(orders), [r for r in results if not isinstance(r, str)]
    assert not any(isinstance(r, OperationalError) for r in results)
    for index, order in enumerate(orders):
        want = 0 if index % 3 == 0 else sum(order.lines.values_list("quantity", flat=True))
        assert sum(Reservation.objects.filter(order_line__order=order, state="active")
                   .values_list("quantity", flat=True)) == want
    assert_ledger_consistent()


def test_payment_racing_the_expiry_job_has_exactly_one_winner(warehouse, make_order):
    sku = SKUFactory()
    services.stock_receive(warehouse_id=warehouse.pk, sku_id=sku.pk, quantity=100, actor=None)
    orders = [make_order({sku: 2}, status="pending_payment", payment_due_at=timezone.now() - timedelta(seconds=1))
              for _ in range(10)]
    for order in orders:
        services.stock_reserve_order(order_id=order.pk, actor=None)

    def act(i):
        if i < 10:
            try:
                order_services.order_pay(order_id=orders[i].pk, actor=None)
                return "paid"
            except TransitionNotAllowed:
                return "too late"
        return expire_unpaid_orders()

    results = run_together(12, act)

    assert all(not isinstance(r, Exception) for r in results), results
    statuses = dict(Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("pk", "status"))
    for index, order in enumerate(orders):
        active = sum(Reservation.objects.filter(order_line__order=order, state="active")
                     .values_list("quantity", flat=True))
        if results[index] == "paid":
            assert statuses[order.pk] == "pending_review" and active == 2
        else:
            assert statuses[order.pk] == "expired" and active == 0
    assert sum(r for r in results[10:]) == sum(1 for r in results[:10] if r == "too late")
    assert_ledger_consistent()
