"""Waves from building to shipping: pick tasks from reservations, scan-confirmed picking (wrong item,
wrong lot, over-pick refused and logged), short picks, packing, the e-waybill and shipping."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone, translation
from rest_framework.test import APIClient

from apps.fulfillment import services
from apps.fulfillment.errors import (
    InvalidPickQuantity,
    InvalidWaveFilter,
    LotRequired,
    NothingToPick,
    OverPick,
    PackageInvalid,
    PackageMissing,
    PickingForbidden,
    ShipmentNotIssued,
    TaskClosed,
    WarehouseNotFound,
    WaveEmpty,
    WrongItem,
    WrongLot,
)
from apps.fulfillment.models import Carrier, Package, PickTask, ScanLog, Shipment, ShopCarrier, Wave, WaveOrder
from apps.fulfillment.selectors import intended_carrier_code, next_task
from apps.inventory.models import Reservation, StockLevel, StockMove
from apps.inventory.services import ledger_matches_levels
from apps.orders.errors import OrderOnHold
from apps.orders.models import Order, OrderEvent, OrderHold, OrderTag
from apps.orders.services import order_hold_open
from tests.factories import ShopFactory, make_user
from tests.fulfillment.factories import SenderProfileFactory, add_lot, ready_order, stocked_sku

pytestmark = pytest.mark.django_db


class Floor:
    """One warehouse with its shop, a clerk and a lead working it, and three SKUs on the shelves:
    cat food (batch-tracked, two lots: the one expiring first is reserved), litter and a bowl."""

    def __init__(self):
        self.shop = ShopFactory()
        self.warehouse = self.shop.default_warehouse
        self.clerk = make_user("warehouse_clerk", warehouses=[self.warehouse])
        self.lead = make_user("warehouse_lead", warehouses=[self.warehouse])
        self.food = stocked_sku(self.warehouse, location="B-02-1", lot="L2405A", expires_in_days=300,
                                name_zh="成猫粮 2kg", barcode="6901234567892")
        add_lot(self.warehouse, self.food, lot="L2411B", location="B-02-2", expires_in_days=500)
        self.litter = stocked_sku(self.warehouse, location="A-01-3", name_zh="豆腐猫砂", barcode="6901234567908")
        self.bowl = stocked_sku(self.warehouse, location="C-07-1", name_zh="陶瓷猫碗", barcode="6901234567915")
        SenderProfileFactory(warehouse=self.warehouse)

    def order(self, lines=None, **kwargs):
        return ready_order(self.shop, lines or {self.food: 2, self.litter: 1}, **kwargs)

    def wave(self, **filters):
        return services.wave_create(warehouse_id=self.warehouse.pk, actor=self.clerk, **filters)

    def scan(self, wave, barcode, lot="", quantity=1, task=None, actor=None):
        return services.pick_scan(wave_id=wave.pk, barcode=barcode, lot_number=lot, quantity=quantity,
                                  task_id=task.pk if task else None, actor=actor or self.clerk)

    def pick_all(self, wave):
        """Scan every open task in path order, whole quantity at once."""
        while (task := next_task(wave_id=wave.pk)) is not None:
            self.scan(wave, task.sku.barcode, lot=task.batch.lot_number if task.batch_id else "",
                      quantity=task.quantity, task=task)


@pytest.fixture
def floor():
    return Floor()


def snapshot(order):
    """Everything a refused scan must leave as it was."""
    return (list(PickTask.objects.filter(order=order).order_by("pk").values_list("picked_quantity", "state")),
            Order.objects.get(pk=order.pk).status, OrderEvent.objects.filter(order=order).count(),
            list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")))


# --- building ------------------------------------------------------------------------------------

def test_a_wave_takes_ready_orders_most_urgent_first_and_lists_tasks_along_the_pick_path(floor):
    later = floor.order({floor.bowl: 1, floor.food: 1}, hours_left=40)
    sooner = floor.order({floor.food: 2, floor.litter: 1}, hours_left=10)

    result = floor.wave()

    wave = result.wave
    assert result.skipped == [] and wave.state == "picking" and wave.actor_label == floor.clerk.username
    assert list(wave.memberships.order_by("position").values_list("order_id", flat=True)) == [sooner.pk, later.pk]
    for order in (sooner, later):
        order.refresh_from_db()
        assert order.status == "picking"
        event = order.events.get(name="start_picking")
        assert event.payload == {"wave_id": wave.pk} and event.actor == floor.clerk
    tasks = list(wave.tasks.order_by("sequence").select_related("sku", "batch"))
    assert [(t.location_code, t.sku.code, t.order_id, t.quantity) for t in tasks] == [
        ("A-01-3", floor.litter.code, sooner.pk, 1),
        ("B-02-1", floor.food.code, sooner.pk, 2),  # the more urgent order first on a shared shelf
        ("B-02-1", floor.food.code, later.pk, 1),
        ("C-07-1", floor.bowl.code, later.pk, 1),
    ]
    # Each task is one active reservation: the batch the stock service reserved (FEFO), not another.
    for task in tasks:
        assert task.reservation.state == Reservation.State.ACTIVE
        assert task.batch_id == task.reservation.stock_level.batch_id
    assert tasks[1].batch.lot_number == "L2405A"


def test_filters_carrier_urgency_cut_off_and_size(floor):
    now = timezone.now()
    red = floor.order(hours_left=3)
    amber = floor.order(hours_left=20)
    green = floor.order(hours_left=60)
    sf_by_tag = floor.order(hours_left=70)
    OrderTag.objects.create(order=sf_by_tag, tag="carrier_sf", source="顺丰")
    ShopCarrier.objects.create(shop=floor.shop, carrier_id=_carrier("zto"))

    assert intended_carrier_code(sf_by_tag) == "sf" and intended_carrier_code(red) == "zto"
    assert _members(floor.wave(carrier_code="sf", size_limit=5)) == [sf_by_tag.pk]
    _back_to_ready(sf_by_tag)
    assert _members(floor.wave(urgency="amber")) == [amber.pk]
    assert _members(floor.wave(cut_off=now + timedelta(hours=5))) == [red.pk]
    assert _members(floor.wave(carrier_code="zto", size_limit=1)) == [green.pk]
    with pytest.raises(WaveEmpty):
        floor.wave(carrier_code="zto")  # the SF-tagged order is the only one left: not for ZTO


def _carrier(code):
    from apps.fulfillment.models import Carrier

    return Carrier.objects.get(code=code).pk


def _members(result):
    return list(result.wave.memberships.order_by("position").values_list("order_id", flat=True))


def _back_to_ready(order):
    Order.objects.filter(pk=order.pk).update(status="ready")
    WaveOrder.objects.filter(order=order).update(left_at=timezone.now())


def test_held_or_moved_orders_are_skipped_and_reported_not_failed(floor, monkeypatch):
    taken = floor.order(hours_left=5)
    held = floor.order(hours_left=6)
    cancelled = floor.order(hours_left=7)

    # The candidates are read first, then locked: between the two a hold opens and another order is
    # cancelled (what a concurrent transaction would do), simulated at the lock.
    from apps.fulfillment.services import waves
    real_lock = waves.lock_orders

    def lock_after_changes(ids):
        order_hold_open(order_id=held.pk, type="buyer_request", reason="买家要求暂缓发货", actor=None)
        Order.objects.filter(pk=cancelled.pk).update(status="cancelled")
        return real_lock(ids)

    monkeypatch.setattr(waves, "lock_orders", lock_after_changes)
    result = floor.wave()

    assert _members(result) == [taken.pk]
    assert [(s["order_id"], s["reason"]) for s in result.skipped] == [(held.pk, "on_hold"),
                                                                      (cancelled.pk, "status_changed")]
    assert Order.objects.get(pk=held.pk).status == "ready"
    assert not PickTask.objects.filter(order__in=[held, cancelled]).exists()


def test_orders_on_hold_other_warehouses_or_statuses_are_not_candidates(floor):
    held = floor.order()
    order_hold_open(order_id=held.pk, type="manual", reason="核对地址", actor=None)
    Order.objects.filter(pk=floor.order().pk).update(status="pending_review")
    other_shop = ShopFactory()
    elsewhere = ready_order(other_shop, {stocked_sku(other_shop.default_warehouse, location="Z-01"): 1})
    with pytest.raises(WaveEmpty):
        floor.wave()
    assert not Wave.objects.exists()
    assert Order.objects.get(pk=elsewhere.pk).status == "ready"


def test_building_needs_the_role_the_warehouse_and_sane_filters(floor):
    floor.order()
    with pytest.raises(PickingForbidden):
        services.wave_create(warehouse_id=floor.warehouse.pk, actor=make_user("cs_agent", shops=[floor.shop]))
    with pytest.raises(WarehouseNotFound):  # a clerk of another warehouse
        services.wave_create(warehouse_id=floor.warehouse.pk, actor=make_user("warehouse_clerk"))
    with pytest.raises(InvalidWaveFilter) as caught:
        floor.wave(urgency="purple", size_limit=0)
    assert set(caught.value.details) == {"urgency", "size_limit"}
    assert not Wave.objects.exists()


def test_an_order_returned_to_ready_by_the_plain_transition_can_join_a_new_wave(floor):
    from apps.orders.services import order_transition

    order = floor.order()
    first = floor.wave().wave
    order_transition(order_id=order.pk, name="return_to_ready", actor=floor.lead, reason="重新排波次")

    second = floor.wave()

    assert _members(second) == [order.pk]
    assert set(first.tasks.values_list("state", flat=True)) == {"released"}
    assert WaveOrder.objects.get(wave=first).left_at is not None


def test_an_order_cancelled_while_being_picked_leaves_its_wave_and_the_wave_can_finish(floor):
    from apps.orders.services import order_transition

    kept = floor.order({floor.bowl: 1}, hours_left=5)
    cancelled = floor.order({floor.food: 2, floor.litter: 1}, hours_left=6)
    wave = floor.wave().wave
    floor.scan(wave, floor.litter.barcode, task=PickTask.objects.get(order=cancelled, sku=floor.litter))

    order_transition(order_id=cancelled.pk, name="cancel", actor=make_user("cs_agent", shops=[floor.shop]),
                     reason="买家取消")

    assert set(PickTask.objects.filter(order=cancelled).values_list("state", flat=True)) == {"released"}
    assert WaveOrder.objects.get(wave=wave, order=cancelled).left_at is not None
    assert not Reservation.objects.filter(order_line__order=cancelled, state=Reservation.State.ACTIVE).exists()
    assert next_task(wave_id=wave.pk).order_id == kept.pk  # the scan page offers only the kept order
    wave.refresh_from_db()
    assert wave.state == "picking"
    floor.pick_all(wave)
    wave.refresh_from_db()
    assert wave.state == "done" and Order.objects.get(pk=kept.pk).status == "picked"
    assert ledger_matches_levels() == []


def test_cancelling_the_last_order_being_picked_completes_its_wave(floor):
    from apps.orders.services import order_transition

    order = floor.order()
    wave = floor.wave().wave
    order_transition(order_id=order.pk, name="cancel", actor=make_user("cs_agent", shops=[floor.shop]), reason="买家取消")
    wave.refresh_from_db()
    assert wave.state == "done" and not PickTask.objects.filter(wave=wave, state="open").exists()


# --- scanning ------------------------------------------------------------------------------------

def test_the_whole_day_wave_scan_pack_waybill_ship_track_to_delivered_keeps_the_ledger(floor, fake_carrier):
    first = floor.order({floor.food: 2, floor.litter: 1}, hours_left=8)
    second = floor.order({floor.bowl: 3}, hours_left=30)
    wave = floor.wave().wave

    # Scan unit by unit on the first task (GS1 carton label: GTIN and lot in one scan), then the rest.
    task = next_task(wave_id=wave.pk)
    assert task.sku == floor.litter
    result = floor.scan(wave, "6901234567908")
    assert result.task.state == "picked" and not result.order_finished
    food = next_task(wave_id=wave.pk)
    result = floor.scan(wave, "(01)06901234567892(10)L2405A(17)270101", task=food)
    assert result.task.picked_quantity == 1 and result.task.state == "open"
    result = floor.scan(wave, "6901234567892", lot="L2405A", task=food)
    assert result.order_finished and not result.wave_done
    assert Order.objects.get(pk=first.pk).status == "picked"
    floor.pick_all(wave)
    wave.refresh_from_db()
    assert wave.state == "done" and wave.completed_at is not None
    assert ScanLog.objects.filter(wave=wave, outcome="ok").count() == 4

    for order in (first, second):
        package = services.order_pack(order_id=order.pk, weight_grams=2350, length_mm=400, width_mm=300,
                                      height_mm=200, actor=floor.clerk)
        assert Order.objects.get(pk=order.pk).status == "packed" and package.weight_grams == 2350
        shipment = services.shipment_request_waybill(order_id=order.pk, carrier_code="zto",
                                                     service_type="standard", actor=floor.clerk)
        assert shipment.state == Shipment.State.ISSUED and shipment.weight == Decimal("2.350")
        assert shipment.request_payload["weight"] == "2.350"
        services.order_ship(order_id=order.pk, actor=floor.clerk)
        order.refresh_from_db()
        assert order.status == "shipped"
        assert order.events.get(name="ship").payload["tracking_number"] == shipment.tracking_number

    assert ledger_matches_levels() == []
    issued = StockMove.objects.filter(type="issue")
    assert sorted(issued.values_list("on_hand_delta", flat=True)) == [-3, -2, -1]
    assert not Reservation.objects.filter(state="active").exists()
    lot_a = StockLevel.objects.get(sku=floor.food, batch__lot_number="L2405A")
    assert (lot_a.on_hand, lot_a.reserved) == (98, 0)

    # On to the buyer: the carrier's signed scans arrive over the webhook, the order follows them.
    Carrier.objects.filter(code="zto").update(webhook_secret="zto-secret")
    fake_carrier.app.webhook_secrets["zto"] = "zto-secret"
    shipment = Shipment.objects.get(order=first)
    for code in ("ACCEPT", "DELIVERING", "SIGN"):
        raw, signature = fake_carrier.scan("zto", shipment.tracking_number, code=code, location="杭州转运中心")
        response = APIClient().post("/api/v1/carriers/zto/tracking/", data=raw, content_type="application/json",
                                    HTTP_X_ORDERHUB_SIGNATURE=signature)
        assert response.status_code == 200, response.json()
    fake_carrier.app.webhook_secrets.clear()
    first.refresh_from_db()
    assert first.status == "delivered"
    assert [e.name for e in first.events.filter(type="transition").order_by("created_at", "id")][-3:] == [
        "transit", "out_for_delivery", "deliver"]
    assert ledger_matches_levels() == []


def test_a_wrong_item_is_refused_names_both_products_and_changes_nothing_but_the_log(floor):
    order = floor.order({floor.litter: 1})
    wave = floor.wave().wave
    before = snapshot(order)

    with pytest.raises(WrongItem) as caught:
        floor.scan(wave, floor.bowl.barcode)

    error = caught.value
    assert error.code == "wrong_item" and error.http_status == 409
    assert floor.litter.code in error.message and "豆腐猫砂" in error.message
    assert floor.bowl.barcode in error.message and "陶瓷猫碗" in error.message
    assert error.details["expected"]["barcode"] == floor.litter.barcode
    assert error.details["scanned"]["barcode"] == floor.bowl.barcode
    assert snapshot(order) == before
    log = ScanLog.objects.get()
    assert (log.outcome, log.barcode, log.sku, log.actor) == ("wrong_item", floor.bowl.barcode, floor.litter, floor.clerk)
    assert log.task.order_id == order.pk and "陶瓷猫碗" in log.details["message"]

    with translation.override("en"), pytest.raises(WrongItem) as caught:
        floor.scan(wave, "1234567890")
    assert "no known product" in caught.value.message


def test_over_picking_is_refused(floor):
    order = floor.order({floor.litter: 2})
    wave = floor.wave().wave
    before = snapshot(order)
    with pytest.raises(OverPick):
        floor.scan(wave, floor.litter.barcode, quantity=3)
    assert snapshot(order) == before

    task = next_task(wave_id=wave.pk)
    floor.scan(wave, floor.litter.barcode, quantity=2, task=task)
    done = snapshot(order)
    with translation.override("en"), pytest.raises(OverPick) as caught:  # a third unit for a complete task
        floor.scan(wave, floor.litter.barcode, task=task)
    assert "already fully picked" in caught.value.message
    assert snapshot(order) == done
    assert list(ScanLog.objects.order_by("id").values_list("outcome", flat=True)) == ["over_pick", "ok", "over_pick"]
    with pytest.raises(NothingToPick):
        floor.scan(wave, floor.litter.barcode)


def test_a_batch_tracked_sku_needs_the_reserved_lot(floor):
    order = floor.order({floor.food: 1})
    wave = floor.wave().wave
    before = snapshot(order)

    with pytest.raises(WrongLot) as caught:  # the right product from the later lot on the next shelf
        floor.scan(wave, floor.food.barcode, lot="L2411B")
    assert "L2405A" in caught.value.message and "L2411B" in caught.value.message
    with pytest.raises(WrongLot):  # the same from a GS1 carton label
        floor.scan(wave, "(01)06901234567892(10)L2411B")
    with pytest.raises(LotRequired) as caught:
        floor.scan(wave, floor.food.barcode)
    assert "L2405A" in caught.value.message
    assert snapshot(order) == before
    assert list(ScanLog.objects.order_by("id").values_list("outcome", flat=True)) == [
        "wrong_lot", "wrong_lot", "lot_required"]

    floor.scan(wave, floor.food.barcode, lot="L2405A")
    assert Order.objects.get(pk=order.pk).status == "picked"


def test_scans_need_the_pick_permission_and_a_sane_quantity(floor):
    floor.order({floor.litter: 1})
    wave = floor.wave().wave
    with pytest.raises(PickingForbidden):
        floor.scan(wave, floor.litter.barcode, actor=make_user("cs_agent"))
    with pytest.raises(InvalidPickQuantity):
        floor.scan(wave, floor.litter.barcode, quantity=0)
    assert not ScanLog.objects.exists()


# --- short picks and leaving the wave --------------------------------------------------------------

def test_a_short_pick_records_what_was_found_and_opens_a_hold(floor):
    order = floor.order({floor.food: 3, floor.bowl: 1})
    wave = floor.wave().wave
    food = wave.tasks.get(sku=floor.food)
    floor.scan(wave, floor.food.barcode, lot="L2405A", task=food)

    with pytest.raises(InvalidPickQuantity):  # fewer than already scanned
        services.pick_short(task_id=food.pk, found=0, reason="货位只剩一袋", actor=floor.clerk)
    task = services.pick_short(task_id=food.pk, found=1, reason="货位只剩一袋", actor=floor.clerk)

    assert (task.state, task.found_quantity, task.picked_quantity) == ("short", 1, 1)
    hold = OrderHold.objects.get(order=order, type="short_pick")
    assert hold.is_open and hold.owner_role == "warehouse_lead" and hold.opened_by == floor.clerk
    assert "B-02-1" in hold.reason and "1" in hold.reason
    assert hold.details["tasks"][0]["wanted"] == 3
    # Picking the rest of the order does not move it on while the hold is open.
    result = floor.scan(wave, floor.bowl.barcode)
    assert result.order_waiting is False and result.wave_done
    assert Order.objects.get(pk=order.pk).status == "picking"
    with pytest.raises(TaskClosed):
        services.pick_short(task_id=food.pk, found=1, reason="again", actor=floor.clerk)

    # The lead sends the order back to ready: tasks released, stock still reserved, hold kept.
    services.wave_release_order(order_id=order.pk, reason="盘点后重新拣货", actor=floor.lead)
    order.refresh_from_db()
    assert order.status == "ready"
    assert set(PickTask.objects.filter(order=order).values_list("state", flat=True)) == {"released"}
    assert Reservation.objects.filter(order_line__order=order, state="active").count() == 2
    assert OrderHold.objects.get(pk=hold.pk).is_open
    assert ledger_matches_levels() == []


def test_an_open_hold_keeps_a_fully_picked_order_in_picking(floor):
    order = floor.order({floor.litter: 1})
    wave = floor.wave().wave
    order_hold_open(order_id=order.pk, type="buyer_request", reason="买家要改地址", actor=None)
    result = floor.scan(wave, floor.litter.barcode)
    assert result.order_waiting and not result.order_finished
    assert Order.objects.get(pk=order.pk).status == "picking"


# --- packing and shipping ------------------------------------------------------------------------

def picked_order(floor, lines=None):
    order = floor.order(lines or {floor.litter: 1})
    floor.pick_all(floor.wave().wave)
    return Order.objects.get(pk=order.pk)


@pytest.mark.parametrize("values, field", [
    ({"weight_grams": 0}, "weight_grams"),
    ({"weight_grams": 1_000_001}, "weight_grams"),
    ({"height_mm": 3001}, "height_mm"),
    ({"length_mm": "40"}, "length_mm"),
])
def test_package_weight_and_size_must_be_sane(floor, values, field):
    order = picked_order(floor)
    size = {"weight_grams": 800, "length_mm": 300, "width_mm": 200, "height_mm": 100, **values}
    with pytest.raises(PackageInvalid) as caught:
        services.order_pack(order_id=order.pk, actor=floor.clerk, **size)
    assert list(caught.value.details) == [field]
    assert Order.objects.get(pk=order.pk).status == "picked" and not Package.objects.exists()


def test_packing_needs_a_picked_order_without_holds(floor):
    order = picked_order(floor)
    order_hold_open(order_id=order.pk, type="manual", reason="复核", actor=None)
    with pytest.raises(OrderOnHold):
        services.order_pack(order_id=order.pk, weight_grams=800, length_mm=300, width_mm=200, height_mm=100,
                            actor=floor.clerk)
    assert not Package.objects.exists()


def test_waybills_only_for_packed_orders_and_shipping_needs_one(floor, fake_carrier):
    from apps.fulfillment.errors import OrderNotShippable

    order = picked_order(floor)
    with pytest.raises(OrderNotShippable):
        services.shipment_request_waybill(order_id=order.pk, carrier_code="zto", service_type="standard",
                                          actor=floor.clerk)
    services.order_pack(order_id=order.pk, weight_grams=800, length_mm=300, width_mm=200, height_mm=100,
                        actor=floor.clerk)
    with pytest.raises(ShipmentNotIssued):
        services.order_ship(order_id=order.pk, actor=floor.clerk)
    assert Order.objects.get(pk=order.pk).status == "packed"
    assert not StockMove.objects.filter(type="issue").exists()


def test_a_packed_order_without_a_package_gets_no_waybill_weight(floor, fake_carrier):
    order = picked_order(floor)
    Order.objects.filter(pk=order.pk).update(status="packed")  # packed by the plain transition
    with pytest.raises(PackageMissing):
        services.shipment_request_waybill(order_id=order.pk, carrier_code="zto", service_type="standard",
                                          actor=floor.clerk)
    assert not Shipment.objects.exists()
