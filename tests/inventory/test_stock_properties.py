"""Property test: whatever sequence of stock operations runs, the ledger sums to the levels, no
level goes out of bounds, and every active reservation sits on an allocatable, sellable lot."""
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core.errors import DomainError
from apps.inventory import services
from apps.inventory.models import Batch, Reservation, StockLevel
from apps.orders import services as order_services
from apps.orders.models import Order
from tests.factories import SKUFactory, WarehouseFactory
from tests.inventory.conftest import assert_ledger_consistent

pytestmark = pytest.mark.django_db

OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["receive", "order", "cancel", "pay", "ship", "adjust", "transfer", "quarantine", "reserve"]),
        st.integers(min_value=0, max_value=5),   # which SKU / order / level
        st.integers(min_value=1, max_value=12),  # quantity
        st.integers(min_value=-10, max_value=400),  # expiry offset in days
    ),
    min_size=5, max_size=30,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_any_sequence_of_stock_operations_keeps_the_ledger_and_bounds(operations, shop, make_order):
    with transaction.atomic():
        other = WarehouseFactory()
        skus = [SKUFactory(batch_tracked=index % 2 == 0, shelf_life_days=365, min_remaining_shelf_life_days=index * 10)
                for index in range(3)]
        orders = []
        for kind, pick, qty, offset in operations:
            sku = skus[pick % len(skus)]
            try:
                if kind == "receive":
                    lot = f"L{offset}" if sku.batch_tracked else ""
                    expires = timezone.localdate() + timedelta(days=offset) if sku.batch_tracked else None
                    services.stock_receive(warehouse_id=shop.default_warehouse_id, sku_id=sku.pk, quantity=qty,
                                           actor=None, lot_number=lot, expires_on=expires)
                elif kind == "order":
                    orders.append(make_order({sku: qty}, status="pending_payment",
                                             payment_due_at=timezone.now() + timedelta(minutes=5)))
                    services.stock_reserve_order(order_id=orders[-1].pk, actor=None)
                elif kind == "reserve" and orders:
                    services.stock_reserve_order(order_id=orders[pick % len(orders)].pk, actor=None)
                elif kind in ("cancel", "pay") and orders:
                    order_services.order_transition(order_id=orders[pick % len(orders)].pk, name=kind, actor=None)
                elif kind == "ship" and orders:
                    order = orders[pick % len(orders)]
                    Order.objects.filter(pk=order.pk, status="pending_review").update(status="packed")
                    order_services.order_transition(order_id=order.pk, name="ship", actor=None)
                elif kind == "adjust":
                    level = StockLevel.objects.order_by("pk")[pick:pick + 1].first()
                    if level:
                        services.stock_adjust(level_id=level.pk, counted=qty, actor=None, reason="count")
                elif kind == "transfer":
                    level = StockLevel.objects.filter(bucket="sellable").order_by("pk")[pick:pick + 1].first()
                    if level:
                        services.stock_transfer(level_id=level.pk, to_warehouse_id=other.pk, quantity=qty, actor=None)
                elif kind == "quarantine":
                    batch = Batch.objects.order_by("pk")[pick:pick + 1].first()
                    if batch:
                        services.stock_quarantine_batch(batch_id=batch.pk, actor=None, reason="QC")
            except DomainError:
                pass  # refused operations must have changed nothing; the invariants below check it

            assert_ledger_consistent()
            today = timezone.localdate()
            for reservation in Reservation.objects.filter(state="active").select_related(
                    "stock_level__batch", "stock_level__sku", "order_line__order__customer"):
                level = reservation.stock_level
                assert level.bucket == "sellable"
                if level.batch_id and reservation.order_line.order.status in services.RESERVABLE_STATUSES:
                    assert level.batch.quarantined_at is None
                    cutoff = services.allocatable_after(level.sku, reservation.order_line.order.customer, today)
                    assert level.batch.expires_on is None or level.batch.expires_on >= cutoff
        transaction.set_rollback(True)  # each example starts from the same empty stock
