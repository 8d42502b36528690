"""The shipping address is locked from `packed` on: a change is refused until a warehouse lead
unlocks it (an intervention, with a reason), one change then locks it again, and a waybill issued
for the old address must be cancelled first."""
import pytest

from apps.fulfillment import services
from apps.fulfillment.errors import ShipmentCancelForbidden
from apps.fulfillment.models import Shipment
from apps.orders.errors import (
    AddressAlreadyUnlocked,
    AddressLocked,
    AddressNotLockable,
    InvalidAddress,
    TransitionForbidden,
    WaybillIssued,
)
from apps.orders.models import Order, OrderEvent
from apps.orders.services import order_change_address, order_unlock_address
from tests.factories import make_user
from tests.fulfillment.test_waves import Floor

pytestmark = pytest.mark.django_db

NEW_ADDRESS = {"receiver_name": "李四", "receiver_phone": "139 0000 1111", "province": "上海市", "city": "上海市",
               "district": "浦东新区", "address_detail": "世纪大道 100 号 8 楼"}


@pytest.fixture
def floor():
    return Floor()


@pytest.fixture
def agent(floor):
    return make_user("cs_agent", shops=[floor.shop])


def packed_order(floor):
    order = floor.order({floor.litter: 1})
    floor.pick_all(floor.wave().wave)
    services.order_pack(order_id=order.pk, weight_grams=900, length_mm=300, width_mm=200, height_mm=100,
                        actor=floor.clerk)
    return Order.objects.get(pk=order.pk)


def address_events(order):
    return list(OrderEvent.objects.filter(order=order, name__startswith="address_").order_by("id")
                .values_list("name", "is_intervention"))


def test_before_packing_the_address_changes_with_a_reason_and_a_masked_trace(floor, agent):
    order = floor.order({floor.litter: 1})

    changed = order_change_address(order_id=order.pk, actor=agent, reason="买家来电改地址", **NEW_ADDRESS)

    assert (changed.receiver_phone, changed.phone_tail, changed.district) == ("13900001111", "1111", "浦东新区")
    assert changed.region_code == "310115"  # resolved again: review will not see this order again
    event = OrderEvent.objects.get(order=order, name="address_changed")
    assert event.actor == agent and not event.is_intervention
    assert event.payload["reason"] == "买家来电改地址" and event.payload["after_unlock"] is False
    assert event.payload["after"]["receiver_phone"] == "139****1111"
    assert event.payload["before"]["receiver_name"] == "张*" and "receiver_phone" in event.payload["fields"]


def test_an_invalid_address_is_refused_field_by_field(floor, agent):
    order = floor.order({floor.litter: 1})
    with pytest.raises(InvalidAddress) as caught:
        order_change_address(order_id=order.pk, actor=agent, reason="改地址", receiver_phone="12345",
                             postal_code="20012", city=" ")
    assert {field: errors[0]["code"] for field, errors in caught.value.details.items()} == {
        "receiver_phone": "invalid_phone", "postal_code": "invalid_postal_code", "city": "required"}
    with pytest.raises(InvalidAddress) as caught:
        order_change_address(order_id=order.pk, actor=agent, reason="  ", city="上海市")
    assert "reason" in caught.value.details
    with pytest.raises(TransitionForbidden):
        order_change_address(order_id=order.pk, actor=floor.clerk, reason="改地址", city="上海市")
    assert Order.objects.get(pk=order.pk).city == "杭州市" and address_events(order) == []


def test_after_packing_a_change_is_refused_until_a_lead_unlocks_it_once(floor, agent):
    order = packed_order(floor)

    with pytest.raises(AddressLocked) as caught:
        order_change_address(order_id=order.pk, actor=agent, reason="买家改地址", **NEW_ADDRESS)
    assert caught.value.code == "address_locked" and caught.value.details["unlockable"] is True
    for outsider in (floor.clerk, agent):  # neither a clerk nor customer service may unlock
        with pytest.raises(TransitionForbidden):
            order_unlock_address(order_id=order.pk, reason="买家改地址", actor=outsider)
    with pytest.raises(InvalidAddress):
        order_unlock_address(order_id=order.pk, reason="", actor=floor.lead)
    assert address_events(order) == [] and Order.objects.get(pk=order.pk).address_unlocked_at is None

    order_unlock_address(order_id=order.pk, reason="买家来电，改收货地址", actor=floor.lead)
    unlocked = OrderEvent.objects.get(order=order, name="address_unlocked")
    assert unlocked.is_intervention and unlocked.actor == floor.lead
    assert unlocked.payload["reason"] == "买家来电，改收货地址"
    with pytest.raises(AddressAlreadyUnlocked):
        order_unlock_address(order_id=order.pk, reason="again", actor=floor.lead)

    order_change_address(order_id=order.pk, actor=agent, reason="买家改地址", **NEW_ADDRESS)
    order.refresh_from_db()
    assert order.status == "packed" and order.address_detail == "世纪大道 100 号 8 楼"
    assert order.address_unlocked_at is None  # locked again
    assert OrderEvent.objects.get(order=order, name="address_changed").payload["after_unlock"] is True
    with pytest.raises(AddressLocked):
        order_change_address(order_id=order.pk, actor=agent, reason="再改一次", address_detail="世纪大道 200 号")
    assert address_events(order) == [("address_unlocked", True), ("address_changed", False)]


def test_a_waybill_for_the_old_address_must_be_cancelled_first(floor, agent, fake_carrier):
    order = packed_order(floor)
    old = services.shipment_request_waybill(order_id=order.pk, carrier_code="zto", service_type="standard",
                                            actor=floor.clerk)
    order_unlock_address(order_id=order.pk, reason="买家改地址", actor=floor.lead)

    with pytest.raises(WaybillIssued) as caught:
        order_change_address(order_id=order.pk, actor=agent, reason="买家改地址", **NEW_ADDRESS)
    assert caught.value.details["tracking_number"] == old.tracking_number
    with pytest.raises(ShipmentCancelForbidden):
        services.shipment_cancel(order_id=order.pk, reason="地址变更", actor=floor.clerk)

    services.shipment_cancel(order_id=order.pk, reason="地址变更，作废旧面单", actor=floor.lead)
    order_change_address(order_id=order.pk, actor=agent, reason="买家改地址", **NEW_ADDRESS)
    new = services.shipment_request_waybill(order_id=order.pk, carrier_code="zto", service_type="standard",
                                            actor=floor.clerk)

    assert Shipment.objects.get(pk=old.pk).state == "cancelled"
    assert new.tracking_number != old.tracking_number
    assert new.request_payload["receiver"]["detail"] == "世纪大道 100 号 8 楼"
    services.order_ship(order_id=order.pk, actor=floor.clerk)
    assert Order.objects.get(pk=order.pk).status == "shipped"


def test_a_shipped_order_is_locked_for_good(floor, agent, fake_carrier):
    order = packed_order(floor)
    services.shipment_request_waybill(order_id=order.pk, carrier_code="zto", service_type="standard",
                                      actor=floor.clerk)
    services.order_ship(order_id=order.pk, actor=floor.clerk)
    with pytest.raises(AddressLocked) as caught:
        order_unlock_address(order_id=order.pk, reason="买家改地址", actor=floor.lead)
    assert caught.value.details["unlockable"] is False
    with pytest.raises(AddressLocked):
        order_change_address(order_id=order.pk, actor=floor.lead, reason="买家改地址", **NEW_ADDRESS)


def test_nothing_to_unlock_before_packing(floor):
    order = floor.order({floor.litter: 1})
    with pytest.raises(AddressNotLockable):
        order_unlock_address(order_id=order.pk, reason="买家改地址", actor=floor.lead)


def test_managers_may_unlock_too(floor):
    order = packed_order(floor)
    manager = make_user("manager")
    order_unlock_address(order_id=order.pk, reason="主管批准改址", actor=manager)
    assert Order.objects.get(pk=order.pk).address_unlocked_at is not None
