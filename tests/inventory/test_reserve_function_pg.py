"""On PostgreSQL a reservation is one call of the database function inventory_reserve_order; SQLite
(and the batch import) use the Python planner. Both must reserve alike: on random stock, lots,
shelf-life rules, shop warehouse lists and orders, the same reservations, shortfalls, holds, events,
warehouse and errors, whether the order is new or being topped up."""
from datetime import timedelta
from unittest import mock

import pytest
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from apps.core.errors import DomainError
from apps.inventory import services
from apps.inventory.models import Batch, Reservation, StockLevel, StockMove
from apps.orders.models import Order, OrderEvent, OrderHold, OrderLine, ShopWarehouse
from tests.factories import CustomerFactory, OrderFactory, ShopFactory, SKUFactory, WarehouseFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

TRACKED = (True, True, False)  # two batch-tracked SKUs and one without lots

LEVELS = st.lists(
    st.tuples(
        st.integers(0, 2),  # warehouse
        st.integers(0, 2),  # SKU
        st.integers(0, 3),  # lot (ignored for the SKU without lots)
        # expiry in days from today, often right at a shelf-life cutoff (1, 30, 60, 180, 200 days)
        st.one_of(st.none(), st.sampled_from([0, 1, 2, 29, 30, 31, 59, 60, 61, 179, 180, 181, 200, 201]),
                  st.integers(-5, 400)),
        st.booleans(),  # lot quarantined
        st.integers(1, 20),  # on hand
        st.sampled_from([0, 0, 2, 20]),  # reserved by other orders (capped at on hand)
    ),
    min_size=2, max_size=14,
)
SCENARIO = st.fixed_dictionaries({
    "levels": LEVELS,
    "sku_min_days": st.lists(st.sampled_from([0, 0, 30, 180]), min_size=3, max_size=3),
    "customer_min_days": st.sampled_from([0, 0, 60, 200]),
    "preferences": st.lists(st.integers(0, 2), unique=True, max_size=3),
    "has_default": st.sampled_from([True, True, True, False]),
    "order_warehouse": st.one_of(st.none(), st.integers(0, 2)),
    "status": st.sampled_from(["pending_payment", "pending_review", "ready", "pending_payment", "picking", "shipped"]),
    "lines": st.lists(st.tuples(st.integers(0, 2), st.integers(1, 6)), min_size=1, max_size=4),
    "top_up": st.one_of(st.none(), st.tuples(st.integers(0, 11), st.integers(1, 6))),
    "on_shortfall": st.sampled_from(["hold", "report", "raise"]),
    "rebook": st.booleans(),
})


def build(scenario):
    today = timezone.localdate()
    warehouses = [WarehouseFactory() for _ in range(3)]
    shop = ShopFactory(default_warehouse=warehouses[0] if scenario["has_default"] else None)
    for priority, index in enumerate(scenario["preferences"]):
        ShopWarehouse.objects.create(shop=shop, warehouse=warehouses[index], priority=priority)
    skus = [SKUFactory(batch_tracked=tracked, shelf_life_days=365, min_remaining_shelf_life_days=days)
            for tracked, days in zip(TRACKED, scenario["sku_min_days"])]
    levels, seen = [], set()
    for warehouse, sku, lot, expiry, quarantined, on_hand, reserved in scenario["levels"]:
        key = (warehouse, sku, lot if TRACKED[sku] else None)
        if key in seen:
            continue
        seen.add(key)
        batch = None
        if TRACKED[sku]:
            batch, _created = Batch.objects.get_or_create(sku=skus[sku], lot_number=f"L{lot}", defaults={
                "expires_on": None if expiry is None else today + timedelta(days=expiry),
                "quarantined_at": timezone.now() if quarantined else None})
        levels.append(StockLevel.objects.create(warehouse=warehouses[warehouse], sku=skus[sku], batch=batch,
                                                on_hand=on_hand, reserved=min(reserved, on_hand)))
    order_warehouse = scenario["order_warehouse"]
    order = OrderFactory(shop=shop, status="pending_review", with_line=False,
                         warehouse=None if order_warehouse is None else warehouses[order_warehouse],
                         customer=CustomerFactory(min_remaining_shelf_life_days=scenario["customer_min_days"]),
                         payment_due_at=timezone.now() + timedelta(minutes=5))
    for number, (sku, quantity) in enumerate(scenario["lines"], start=1):
        OrderLine.objects.create(order=order, line_no=number, sku=skus[sku], name=skus[sku].name_zh,
                                 quantity=quantity, unit_price=0, line_total=0)
    if scenario["top_up"] is not None and levels:
        # Something is already held; then more stock arrives and the order is topped up.
        services.reserve_for_order(Order.objects.get(pk=order.pk), actor=None, on_shortfall="report")
        pick, more = scenario["top_up"]
        StockLevel.objects.filter(pk=levels[pick % len(levels)].pk).update(on_hand=F("on_hand") + more)
    Order.objects.filter(pk=order.pk).update(status=scenario["status"])
    return order.pk


def outcome(order_id, scenario, *, in_python: bool):
    """Reserve through reserve_for_order (the function, or the planner when in_python) inside a
    savepoint, read back everything a reservation writes, and undo it."""
    savepoint = transaction.savepoint()
    try:
        order = Order.objects.select_related("shop", "customer").get(pk=order_id)
        with mock.patch.object(services, "uses_postgresql", return_value=not in_python):
            try:
                result = services.reserve_for_order(order, actor=None, on_shortfall=scenario["on_shortfall"],
                                                    rebook=scenario["rebook"])
                returned = (result.warehouse_id, result.reserved, [s.as_dict() for s in result.shortfalls])
            except DomainError as error:
                returned = (error.code, error.details)
        return {
            "returned": returned,
            "in_memory_warehouse": order.warehouse_id,
            "warehouse": Order.objects.get(pk=order_id).warehouse_id,
            "reservations": sorted((line_no, level_id, quantity, expires_at.isoformat() if expires_at else "", state)
                                   for line_no, level_id, quantity, expires_at, state in Reservation.objects.filter(
                                       order_line__order_id=order_id).values_list(
                                       "order_line__line_no", "stock_level_id", "quantity", "expires_at", "state")),
            "levels": sorted(StockLevel.objects.values_list("pk", "reserved")),
            "moves": sorted(StockMove.objects.filter(order_id=order_id).values_list(
                "stock_level_id", "sku_id", "type", "reserved_delta", "reference", "actor_label")),
            "holds": sorted(OrderHold.objects.filter(order_id=order_id).values_list("type", "reason", "details")),
            "events": sorted((name, sorted((key, str(value)) for key, value in payload.items() if key != "hold_id"))
                             for name, payload in OrderEvent.objects.filter(order_id=order_id).values_list(
                                 "name", "payload")),
        }
    finally:
        transaction.savepoint_rollback(savepoint)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=SCENARIO)
def test_the_database_function_reserves_exactly_as_the_python_planner(scenario):
    with transaction.atomic():
        order_id = build(scenario)
        in_database = outcome(order_id, scenario, in_python=False)
        in_python = outcome(order_id, scenario, in_python=True)
        assert in_database == in_python
        event("reserved something" if in_database["reservations"] else "reserved nothing")
        event(f"returned {in_database['returned'][0]}" if isinstance(in_database["returned"][0], str)
              else "short" if in_database["returned"][2] else "served in full")
        transaction.set_rollback(True)


def test_a_missing_order_is_a_coded_error(db):
    with pytest.raises(DomainError) as caught:
        services.stock_reserve_order(order_id=987654321, actor=None)
    assert caught.value.code == "order_not_found"


def test_the_function_keeps_generic_plans(db):
    """The SET clause in apps/inventory/db_functions.py: a CREATE OR REPLACE without it drops the
    setting, and every call would re-plan its statements again."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT proconfig FROM pg_proc WHERE proname = 'inventory_reserve_order'")
        assert cursor.fetchall() == [(["plan_cache_mode=force_generic_plan"],)]
