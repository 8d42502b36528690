"""Stock services: receiving, FEFO reservation with shelf-life rules, release, issue, counts, alerts."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from apps.inventory import services
from apps.inventory.alerts import stock_alerts_refresh
from apps.inventory.errors import (
    AdjustBelowReserved,
    DuplicateLot,
    InsufficientStock,
    InvalidBatchDates,
    InvalidQuantity,
    LotNotTracked,
    LotRequired,
    UnknownSKU,
    UnknownWarehouse,
)
from apps.inventory.models import Batch, Reservation, StockAlert, StockLevel, StockMove
from apps.orders import services as order_services
from apps.orders.models import Order, OrderHold, OrderStatus, ShopWarehouse
from apps.orders.tasks import expire_unpaid_orders
from tests.factories import CustomerFactory, SKUFactory, WarehouseFactory, stock_up
from tests.inventory.conftest import assert_ledger_consistent, days

pytestmark = pytest.mark.django_db


def receive(warehouse, sku, quantity, lot="", expires=None, made=None):
    return services.stock_receive(warehouse_id=warehouse.pk, sku_id=sku.pk, quantity=quantity, actor=None,
                                  lot_number=lot, expires_on=expires, manufactured_on=made)


def reserved_by_lot(order):
    return sorted((r.stock_level.batch.lot_number if r.stock_level.batch_id else "-", r.quantity)
                  for r in Reservation.objects.filter(order_line__order=order, state="active")
                  .select_related("stock_level__batch"))


# --- receiving ----------------------------------------------------------------------------------

def test_receipt_creates_batch_level_and_ledger_line(warehouse, tracked_sku):
    level = receive(warehouse, tracked_sku, 40, lot="L1", expires=days(200), made=days(-30))
    receive(warehouse, tracked_sku, 10, lot="L1", expires=days(200), made=days(-30))

    level.refresh_from_db()
    assert (level.on_hand, level.reserved, level.batch.lot_number) == (50, 0, "L1")
    assert list(StockMove.objects.values_list("type", "on_hand_delta")) == [("receipt", 40), ("receipt", 10)]
    assert_ledger_consistent()


def test_non_batch_sku_uses_a_level_without_batch(warehouse):
    sku = SKUFactory()
    level = receive(warehouse, sku, 5)
    assert level.batch is None and level.on_hand == 5


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"quantity": 0}, InvalidQuantity),
    ({"quantity": -3}, InvalidQuantity),
    ({"lot": "L2", "made": "later", "expires": "earlier"}, InvalidBatchDates),
    ({"lot": "L1", "expires": "other"}, DuplicateLot),
    ({"lot": ""}, LotRequired),
    ({"warehouse": "unknown"}, UnknownWarehouse),
    ({"sku": "unknown"}, UnknownSKU),
])
def test_bad_receipts_are_coded_and_write_nothing(warehouse, tracked_sku, kwargs, error):
    receive(warehouse, tracked_sku, 5, lot="L1", expires=days(100))
    before = (StockMove.objects.count(), Batch.objects.count(), StockLevel.objects.count())
    dates = {"later": days(10), "earlier": days(5), "other": days(101)}
    with pytest.raises(error):
        services.stock_receive(
            warehouse_id=999999 if kwargs.get("warehouse") else warehouse.pk,
            sku_id=999999 if kwargs.get("sku") else tracked_sku.pk,
            quantity=kwargs.get("quantity", 5), actor=None, lot_number=kwargs.get("lot", "L9"),
            manufactured_on=dates.get(kwargs.get("made")), expires_on=dates.get(kwargs.get("expires"), days(100)))
    assert (StockMove.objects.count(), Batch.objects.count(), StockLevel.objects.count()) == before


def test_lot_on_a_non_batch_sku_is_refused(warehouse):
    with pytest.raises(LotNotTracked):
        receive(warehouse, SKUFactory(), 5, lot="L1")


# --- reservation --------------------------------------------------------------------------------

def test_fefo_takes_the_earliest_expiry_first(warehouse, tracked_sku, make_order):
    receive(warehouse, tracked_sku, 10, lot="LATE", expires=days(300))
    receive(warehouse, tracked_sku, 10, lot="EARLY", expires=days(100))
    receive(warehouse, tracked_sku, 10, lot="MID", expires=days(200))
    order = make_order({tracked_sku: 25})

    result = services.stock_reserve_order(order_id=order.pk, actor=None)

    assert result.reserved == 25 and not result.shortfalls
    assert reserved_by_lot(order) == [("EARLY", 10), ("LATE", 5), ("MID", 10)]
    assert_ledger_consistent()


def test_expired_batches_are_never_allocated(warehouse, tracked_sku, make_order):
    receive(warehouse, tracked_sku, 10, lot="OLD", expires=days(0), made=days(-400))
    receive(warehouse, tracked_sku, 10, lot="NEW", expires=days(90))
    order = make_order({tracked_sku: 5})
    services.stock_reserve_order(order_id=order.pk, actor=None)
    assert reserved_by_lot(order) == [("NEW", 5)]


def test_minimum_remaining_shelf_life_skips_short_batches_and_opens_an_expiry_hold(warehouse, make_order):
    formula = SKUFactory(batch_tracked=True, shelf_life_days=720, min_remaining_shelf_life_days=180)
    receive(warehouse, formula, 50, lot="SHORT", expires=days(120))
    receive(warehouse, formula, 3, lot="LONG", expires=days(400))
    order = make_order({formula: 5})

    result = services.stock_reserve_order(order_id=order.pk, actor=None)

    assert reserved_by_lot(order) == [("LONG", 3)]
    assert [s.as_dict() for s in result.shortfalls] == [
        {"line_no": 1, "sku": formula.code, "requested": 5, "reserved": 3, "short": 2, "blocked_by_expiry": 50}]
    hold = OrderHold.objects.get(order=order)
    assert (hold.type, hold.owner_role, hold.is_automatic) == ("expiry_conflict", "warehouse_lead", True)
    assert formula.code in hold.reason and "2" in hold.reason


def test_the_customer_can_ask_for_more_shelf_life_than_the_sku(warehouse, tracked_sku, make_order):
    receive(warehouse, tracked_sku, 10, lot="A", expires=days(60))
    receive(warehouse, tracked_sku, 10, lot="B", expires=days(200))
    picky = CustomerFactory(min_remaining_shelf_life_days=120)
    order = make_order({tracked_sku: 4}, customer=picky)
    services.stock_reserve_order(order_id=order.pk, actor=None)
    assert reserved_by_lot(order) == [("B", 4)]


def test_shortage_in_strict_mode_is_insufficient_stock_per_line_and_writes_nothing(warehouse, make_order):
    cat_food, litter = SKUFactory(code="CAT"), SKUFactory(code="LITTER")
    receive(warehouse, cat_food, 3)
    receive(warehouse, litter, 100)
    order = make_order({cat_food: 5, litter: 2})
    moves_before = StockMove.objects.count()

    with pytest.raises(InsufficientStock) as caught:
        services.stock_reserve_order(order_id=order.pk, actor=None, on_shortfall="raise")

    assert caught.value.code == "insufficient_stock"
    assert caught.value.details["lines"] == [
        {"line_no": 1, "sku": "CAT", "requested": 5, "reserved": 3, "short": 2, "blocked_by_expiry": 0}]
    assert StockMove.objects.count() == moves_before and not Reservation.objects.exists()
    assert set(StockLevel.objects.values_list("reserved", flat=True)) == {0}
    assert not OrderHold.objects.exists()


def test_shortage_at_submission_reserves_what_there_is_and_holds_the_rest(warehouse, make_order):
    cat_food = SKUFactory(code="CAT")
    receive(warehouse, cat_food, 3)
    order = make_order({cat_food: 5})

    services.stock_reserve_order(order_id=order.pk, actor=None)
    hold = OrderHold.objects.get(order=order)
    assert hold.type == "out_of_stock" and "CAT" in hold.reason
    assert StockLevel.objects.get().reserved == 3

    # New stock arrives; reserving again tops the order up and opens no second hold.
    receive(warehouse, cat_food, 10)
    services.stock_reserve_order(order_id=order.pk, actor=None)
    assert sum(r.quantity for r in Reservation.objects.filter(state="active")) == 5
    assert OrderHold.objects.count() == 1
    assert_ledger_consistent()


def test_reserving_a_fully_reserved_order_again_changes_nothing(warehouse, make_order):
    sku = SKUFactory()
    receive(warehouse, sku, 10)
    order = make_order({sku: 4})
    services.stock_reserve_order(order_id=order.pk, actor=None)
    moves = StockMove.objects.count()
    services.stock_reserve_order(order_id=order.pk, actor=None)
    assert StockMove.objects.count() == moves and StockLevel.objects.get().reserved == 4


def test_the_first_warehouse_in_the_shops_list_that_serves_every_line_wins(shop, make_order):
    north, south = WarehouseFactory(code="N"), WarehouseFactory(code="S")
    ShopWarehouse.objects.create(shop=shop, warehouse=north, priority=1)
    ShopWarehouse.objects.create(shop=shop, warehouse=south, priority=2)
    tea, cups = SKUFactory(), SKUFactory()
    stock_up(north, tea, quantity=10)  # north lacks cups
    stock_up(south, tea, cups, quantity=10)
    order = make_order({tea: 2, cups: 1})
    order.warehouse = None
    order.save(update_fields=["warehouse"])

    services.stock_reserve_order(order_id=order.pk, actor=None)

    order.refresh_from_db()
    assert order.warehouse == south
    assert set(Reservation.objects.values_list("stock_level__warehouse__code", flat=True)) == {"S"}


# --- the order lifecycle moves stock ------------------------------------------------------------

def test_cancel_releases_and_releasing_twice_changes_nothing(warehouse, make_order):
    sku = SKUFactory()
    receive(warehouse, sku, 10)
    order = make_order({sku: 4})
    services.stock_reserve_order(order_id=order.pk, actor=None)

    order_services.order_transition(order_id=order.pk, name="cancel", actor=None, reason="买家取消")
    assert StockLevel.objects.get().reserved == 0
    moves = StockMove.objects.count()
    assert services.stock_release_order(order_id=order.pk, actor=None) == 0
    assert StockMove.objects.count() == moves
    assert list(StockMove.objects.values_list("type", "reserved_delta")) == [
        ("receipt", 0), ("reserve", 4), ("release", -4)]
    assert_ledger_consistent()


def test_shipping_issues_the_reserved_batches(warehouse, tracked_sku, make_order):
    receive(warehouse, tracked_sku, 10, lot="A", expires=days(100))
    order = make_order({tracked_sku: 4}, status="ready")
    services.stock_reserve_order(order_id=order.pk, actor=None)
    Order.objects.filter(pk=order.pk).update(status="packed")

    order_services.order_transition(order_id=order.pk, name="ship", actor=None)

    level = StockLevel.objects.get()
    assert (level.on_hand, level.reserved) == (6, 0)
    assert Reservation.objects.get().state == "issued"
    assert_ledger_consistent()


def test_unpaid_intake_reservation_expires_with_the_payment_window(warehouse, make_order):
    sku = SKUFactory()
    receive(warehouse, sku, 10)
    due = timezone.now() - timedelta(seconds=1)
    order = make_order({sku: 3}, status="pending_payment", payment_due_at=due)
    services.stock_reserve_order(order_id=order.pk, actor=None)
    assert Reservation.objects.get().expires_at == due

    assert expire_unpaid_orders() == 1
    assert expire_unpaid_orders() == 0  # a second run finds nothing to do

    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
    assert StockLevel.objects.get().reserved == 0
    assert order.events.filter(name="expire").count() == 1
    assert_ledger_consistent()


def test_payment_makes_the_reservation_firm_and_expiry_then_changes_nothing(warehouse, make_order):
    sku = SKUFactory()
    receive(warehouse, sku, 10)
    order = make_order({sku: 3}, status="pending_payment", payment_due_at=timezone.now() + timedelta(minutes=5))
    services.stock_reserve_order(order_id=order.pk, actor=None)

    order_services.order_pay(order_id=order.pk, actor=None)
    Order.objects.filter(pk=order.pk).update(payment_due_at=timezone.now() - timedelta(minutes=1))  # clock moves on
    assert expire_unpaid_orders() == 0

    order.refresh_from_db()
    assert order.status == "pending_review"
    reservation = Reservation.objects.get()
    assert (reservation.state, reservation.expires_at) == ("active", None)
    assert StockLevel.objects.get().reserved == 3


# --- counts, transfers, quarantine --------------------------------------------------------------

def test_count_adjustment_is_an_intervention_and_cannot_go_below_reserved(warehouse, make_order):
    sku = SKUFactory()
    level = receive(warehouse, sku, 10)
    services.stock_reserve_order(order_id=make_order({sku: 4}).pk, actor=None)

    services.stock_adjust(level_id=level.pk, counted=7, actor=None, reason="盘点少 3 件")
    move = StockMove.objects.get(type="adjustment")
    assert (move.on_hand_delta, move.is_intervention, move.note) == (-3, True, "盘点少 3 件")

    with pytest.raises(AdjustBelowReserved):
        services.stock_adjust(level_id=level.pk, counted=3, actor=None, reason="x")
    assert StockLevel.objects.get().on_hand == 7
    assert_ledger_consistent()


def test_transfer_moves_free_stock_only(warehouse, tracked_sku, make_order):
    other = WarehouseFactory()
    level = receive(warehouse, tracked_sku, 10, lot="A", expires=days(100))
    services.stock_reserve_order(order_id=make_order({tracked_sku: 6}).pk, actor=None)
    with pytest.raises(InsufficientStock):
        services.stock_transfer(level_id=level.pk, to_warehouse_id=other.pk, quantity=5, actor=None)

    target = services.stock_transfer(level_id=level.pk, to_warehouse_id=other.pk, quantity=4, actor=None)
    assert (target.on_hand, target.batch.lot_number, target.warehouse) == (4, "A", other)
    assert StockLevel.objects.get(pk=level.pk).on_hand == 6
    assert_ledger_consistent()


def test_quarantine_moves_free_units_and_re_reserves_orders_from_other_batches(warehouse, tracked_sku, make_order):
    receive(warehouse, tracked_sku, 10, lot="BAD", expires=days(50))
    receive(warehouse, tracked_sku, 10, lot="GOOD", expires=days(150))
    order = make_order({tracked_sku: 4})
    services.stock_reserve_order(order_id=order.pk, actor=None)
    assert reserved_by_lot(order) == [("BAD", 4)]

    batch = Batch.objects.get(lot_number="BAD")
    services.stock_quarantine_batch(batch_id=batch.pk, actor=None, reason="质检不合格")

    assert reserved_by_lot(order) == [("GOOD", 4)]
    bad_sellable = StockLevel.objects.get(batch=batch, bucket="sellable")
    bad_quarantine = StockLevel.objects.get(batch=batch, bucket="quarantine")
    assert (bad_sellable.on_hand, bad_sellable.reserved, bad_quarantine.on_hand) == (0, 0, 10)
    assert_ledger_consistent()


# --- alerts -------------------------------------------------------------------------------------

def test_alerts_low_stock_replenishment_and_near_expiry(warehouse, make_order, today):
    sku = SKUFactory(safety_stock=20, batch_tracked=True, shelf_life_days=365, near_expiry_alert_days=30)
    receive(warehouse, sku, 12, lot="SOON", expires=days(20))
    receive(warehouse, sku, 6, lot="LATER", expires=days(300))
    for _ in range(7):  # 7 units a day for a week of demand
        make_order({sku: 7}, status="delivered")

    stock_alerts_refresh()

    alerts = {a.kind: a for a in StockAlert.objects.filter(resolved_at__isnull=True)}
    assert set(alerts) == {"low_stock", "replenishment", "near_expiry"}
    assert alerts["low_stock"].available == 18
    # cover = 18 / (7 × 7) = 0.37 < 1.2; suggested = 7 × 14 + 20 − 18 = 100
    assert alerts["replenishment"].suggested_quantity == 100
    assert alerts["replenishment"].details["cover"] == "0.37"
    assert alerts["near_expiry"].batch.lot_number == "SOON" and alerts["near_expiry"].details["days_left"] == 20

    assert stock_alerts_refresh()["raised"] == 0  # running again changes nothing
    assert StockAlert.objects.count() == 3

    receive(warehouse, sku, 500, lot="BIG", expires=days(400))
    stock_alerts_refresh()
    assert set(StockAlert.objects.filter(resolved_at__isnull=True).values_list("kind", flat=True)) == {"near_expiry"}


@pytest.mark.parametrize("on_hand, raised", [(8430, False), (8429, True)])
def test_stock_cover_of_exactly_1_2_raises_no_replenishment_request(warehouse, make_order, on_hand, raised):
    # 8,430 ÷ 7,025 is 1.2 exactly; through the daily average (7,025 ÷ 7 × 7) it came out just below.
    sku = SKUFactory(safety_stock=0)
    receive(warehouse, sku, on_hand)
    make_order({sku: 7025}, status="delivered")

    stock_alerts_refresh()

    request = StockAlert.objects.filter(kind="replenishment", sku=sku).first()
    assert (request is not None) is raised
    if raised:  # two weeks of demand (14,050) less what is there
        assert (request.suggested_quantity, request.details) == (14050 - 8429, {"cover": "1.20",
                                                                                 "daily_demand": "1003.57"})


def test_an_expired_batch_raises_its_own_alert_and_a_near_one_turns_expired_when_its_date_passes(warehouse, today):
    sku = SKUFactory(safety_stock=0, batch_tracked=True, shelf_life_days=365, near_expiry_alert_days=30)
    gone = receive(warehouse, sku, 5, lot="GONE", expires=days(-3))
    receive(warehouse, sku, 8, lot="TODAY", expires=days(0))
    receive(warehouse, sku, 40, lot="LATER", expires=days(300))

    stock_alerts_refresh()

    def open_alerts():
        return {(a.kind, a.batch.lot_number): (a.available, a.details["days_left"])
                for a in StockAlert.objects.filter(resolved_at__isnull=True).select_related("batch")}

    # A batch on its last day is still near expiry; one past its date is expired, not "near".
    assert open_alerts() == {("expired", "GONE"): (5, -3), ("near_expiry", "TODAY"): (8, 0)}
    assert StockAlert.objects.get(kind="expired").get_kind_display() == "批次已过期"

    tomorrow = stock_alerts_refresh(today=today + timedelta(days=1))
    assert tomorrow == {"raised": 1, "resolved": 1, "updated": 1, "open": 2}  # GONE's days_left moved on
    assert open_alerts() == {("expired", "GONE"): (5, -4), ("expired", "TODAY"): (8, -1)}
    assert StockAlert.objects.get(kind="near_expiry").resolved_at is not None

    services.stock_adjust(level_id=gone.pk, counted=0, actor=None, reason="报废")
    stock_alerts_refresh(today=today + timedelta(days=1))
    assert open_alerts() == {("expired", "TODAY"): (8, -1)}


def test_quarantine_of_a_picked_batch_rebooks_the_order_and_holds_it_for_the_warehouse(warehouse, tracked_sku,
                                                                                      make_order):
    receive(warehouse, tracked_sku, 10, lot="BAD", expires=days(50))
    receive(warehouse, tracked_sku, 10, lot="GOOD", expires=days(150))
    order = make_order({tracked_sku: 4})
    services.stock_reserve_order(order_id=order.pk, actor=None)
    Order.objects.filter(pk=order.pk).update(status="packed")

    services.stock_quarantine_batch(batch_id=Batch.objects.get(lot_number="BAD").pk, actor=None, reason="召回")

    assert reserved_by_lot(order) == [("GOOD", 4)]
    hold = OrderHold.objects.get(order=order, released_at__isnull=True)
    assert (hold.type, hold.owner_role) == ("quarantined_stock", "warehouse_lead") and "召回" in hold.reason
    assert_ledger_consistent()


def test_a_quarantined_lot_can_never_be_shipped(warehouse, tracked_sku, make_order):
    from apps.inventory.errors import QuarantinedStock

    receive(warehouse, tracked_sku, 4, lot="ONLY", expires=days(50))
    order = make_order({tracked_sku: 4})
    services.stock_reserve_order(order_id=order.pk, actor=None)
    # Flag the lot behind the service's back: the shipment guard alone must stop it.
    Batch.objects.filter(lot_number="ONLY").update(quarantined_at=timezone.now())
    Order.objects.filter(pk=order.pk).update(status="packed")

    with pytest.raises(QuarantinedStock):
        order_services.order_transition(order_id=order.pk, name="ship", actor=None)
    assert Order.objects.get(pk=order.pk).status == "packed"
    assert StockLevel.objects.get().on_hand == 4


def test_stock_holds_close_when_the_order_ends(warehouse, make_order):
    sku = SKUFactory()
    order = make_order({sku: 2}, status="pending_payment", payment_due_at=timezone.now() - timedelta(seconds=1))
    services.stock_reserve_order(order_id=order.pk, actor=None)
    assert OrderHold.objects.get(order=order).is_open

    expire_unpaid_orders()

    hold = OrderHold.objects.get(order=order)
    assert not hold.is_open and hold.resolution
    assert order.events.filter(type="hold_released").count() == 1


def test_moving_an_order_to_another_warehouse_is_noted_in_its_history(shop, make_order):
    north, south = WarehouseFactory(code="N"), WarehouseFactory(code="S")
    ShopWarehouse.objects.create(shop=shop, warehouse=north, priority=1)
    ShopWarehouse.objects.create(shop=shop, warehouse=south, priority=2)
    sku = SKUFactory()
    stock_up(south, sku, quantity=5)
    order = make_order({sku: 2})
    order.warehouse = north
    order.save(update_fields=["warehouse"])

    services.stock_reserve_order(order_id=order.pk, actor=None)

    note = order.events.get(type="note")
    assert (note.name, note.payload) == ("warehouse_reassigned", {"from": north.pk, "to": south.pk})


def test_short_dated_stock_does_not_count_as_available_for_alerts(warehouse, make_order):
    formula = SKUFactory(batch_tracked=True, shelf_life_days=720, min_remaining_shelf_life_days=180, safety_stock=5)
    receive(warehouse, formula, 50, lot="SHORT", expires=days(100))
    stock_alerts_refresh()
    low = StockAlert.objects.get(kind="low_stock", sku=formula)
    assert low.available == 0


# Reserving for a batch of new orders (a legacy import) gives what reserving one by one would.

def _new_orders(shop, sku, quantities, statuses):
    from apps.orders.models import OrderLine
    from tests.factories import OrderFactory

    made = []
    for quantity, status in zip(quantities, statuses):
        order = OrderFactory(shop=shop, status=status, with_line=False,
                             payment_due_at=timezone.now() + timedelta(minutes=30))
        made.append((order, [OrderLine.objects.create(order=order, line_no=1, sku=sku, name=sku.name_zh,
                                                      quantity=quantity, unit_price=Decimal("1.00"),
                                                      line_total=Decimal(quantity))]))
    return made


def _reserved(order):
    return [(r.stock_level.batch.lot_number, r.quantity, r.expires_at is not None)
            for r in Reservation.objects.filter(order_line__order=order).select_related("stock_level__batch")
            .order_by("stock_level__batch__expires_on")]


def test_a_batch_of_new_orders_is_reserved_fefo_in_order_as_one_by_one_would():
    from apps.inventory.services import ledger_matches_levels, reserve_for_new_orders
    from tests.factories import ShopFactory, SKUFactory, stock_up

    shop = ShopFactory()
    sku = SKUFactory(batch_tracked=True, shelf_life_days=720)
    today = timezone.localdate()
    stock_up(shop.default_warehouse, sku, quantity=4, lot="EARLY", expires_on=today + timedelta(days=300))
    stock_up(shop.default_warehouse, sku, quantity=5, lot="LATE", expires_on=today + timedelta(days=600))
    first, second, third = _new_orders(shop, sku, [3, 4, 5], ["pending_review", "pending_payment", "pending_review"])

    results = reserve_for_new_orders([first, second, third], actor=None)

    assert _reserved(first[0]) == [("EARLY", 3, False)]
    assert _reserved(second[0]) == [("EARLY", 1, True), ("LATE", 3, True)]  # unpaid: lapses with its window
    assert _reserved(third[0]) == [("LATE", 2, False)]
    assert [results[o.pk].reserved for o, _lines in (first, second, third)] == [3, 4, 2]
    assert [h.type for h in third[0].holds.all()] == ["out_of_stock"] and not first[0].holds.exists()
    assert ledger_matches_levels() == []
    assert StockLevel.objects.filter(sku=sku).aggregate(reserved=Sum("reserved"))["reserved"] == 9
