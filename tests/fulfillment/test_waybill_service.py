"""shipment_request_waybill: the order's e-waybill from the carrier over HTTP, stored on a Shipment,
never half-written."""
import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.fulfillment.carriers import adapter_for
from apps.fulfillment.errors import (
    CarrierRefused,
    CarrierUnavailable,
    OrderNotShippable,
    SenderProfileMissing,
    ShipmentExists,
    ShippingForbidden,
    UnknownCarrier,
    WaybillInvalid,
)
from apps.fulfillment.models import Carrier, Shipment
from apps.fulfillment.services import shipment_request_waybill
from apps.orders.models import OrderEvent
from tests.factories import OrderFactory, make_user
from tests.fulfillment.factories import CARRIER_CODES, first_service, point_at, shippable_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk():
    return make_user("warehouse_clerk")


def request_waybill(order, code="sf", actor=None, **options):
    carrier = Carrier.objects.get(code=code)
    options.setdefault("service_type", first_service(carrier))
    options.setdefault("weight", Decimal("1.2"))
    return shipment_request_waybill(order_id=order.pk, carrier_code=code, actor=actor, **options)


def waybill_calls(fake, code):
    return [entry for entry in fake.app.requests if entry == (code, "waybills")]


def assert_nothing_written(order):
    assert not Shipment.objects.filter(order=order).exists()
    assert not OrderEvent.objects.filter(order=order).exists()


@pytest.mark.parametrize("code", CARRIER_CODES)
def test_the_waybill_answer_is_stored_on_the_shipment(fake_carrier, clerk, code):
    order = shippable_order()
    before = len(waybill_calls(fake_carrier, code))
    shipment = request_waybill(order, code, actor=clerk, cargo_name="宠物食品")

    shipment.refresh_from_db()
    carrier = shipment.carrier
    assert shipment.state == Shipment.State.ISSUED and shipment.carrier.code == code
    assert re.fullmatch(carrier.tracking_number_pattern, shipment.tracking_number)
    assert re.fullmatch(r"\d{3}-[A-Z]\d{2}-\d{2}", shipment.sort_code)
    assert shipment.sort_code.startswith("571-")  # the factory's order goes to Hangzhou
    assert (shipment.package_centre, shipment.short_address) == ("杭州转运中心", "浙江 杭州 西湖")
    assert shipment.weight == Decimal("1.200") and shipment.issued_at >= shipment.requested_at
    assert (shipment.actor, shipment.actor_label) == (clerk, clerk.username)
    assert len(waybill_calls(fake_carrier, code)) == before + 1

    sent = shipment.request_payload
    assert sent["request_id"] == str(shipment.request_id) and sent["order_ref"] == order.external_id
    assert sent["receiver"]["phone"] == "13812345678" and sent["sender"]["phone"] == "0571-88886666"
    assert sent["weight"] == "1.200"

    event = OrderEvent.objects.get(order=order)
    assert (event.type, event.name, event.actor) == ("note", "waybill_issued", clerk)
    assert event.payload["tracking_number"] == shipment.tracking_number
    order.refresh_from_db()
    assert order.status == "packed"  # shipping is its own step


def test_the_carriers_accounts_and_the_cod_account_go_out_with_the_request(fake_carrier):
    shipment = request_waybill(shippable_order(), "sf", cod_amount=Decimal("64.70"), insured_value=Decimal("500"))
    sent = shipment.request_payload
    assert (sent["monthly_account"], sent["cod_account"]) == ("0210012345", "0210098765")
    assert (sent["cod_amount"], sent["insured_value"]) == ("64.70", "500.00")
    assert (shipment.cod_amount, shipment.insured_value) == (Decimal("64.70"), Decimal("500.00"))


@pytest.mark.parametrize("status", ["ready", "picking", "picked", "shipped", "cancelled"])
def test_only_packed_orders_are_labelled(fake_carrier, status):
    """The label goes on the packed parcel: only then are its weight and the locked address final."""
    order = shippable_order(status=status)
    with pytest.raises(OrderNotShippable) as caught:
        request_waybill(order)
    assert caught.value.details == {"status": status, "allowed": ["packed"]}
    assert_nothing_written(order)


def test_the_actor_needs_the_ship_permission(fake_carrier):
    order = shippable_order()
    with pytest.raises(ShippingForbidden):
        request_waybill(order, actor=make_user("cs_agent"))
    assert_nothing_written(order)


def test_invalid_order_data_gives_per_field_errors_and_no_call(fake_carrier):
    order = shippable_order(receiver_phone="12345", receiver_name="欧阳" * 11)
    before = len(fake_carrier.app.requests)
    with pytest.raises(WaybillInvalid) as caught:
        request_waybill(order, "jt", weight=Decimal("0"))
    assert {path: [e["code"] for e in errors] for path, errors in caught.value.details.items()} == {
        "receiver.phone": ["invalid_phone"], "receiver.name": ["too_long"], "weight": ["out_of_range"]}
    assert len(fake_carrier.app.requests) == before
    assert_nothing_written(order)


def test_cash_on_delivery_with_a_carrier_that_has_none_is_an_error_not_a_dropped_field(fake_carrier):
    order = shippable_order()
    with pytest.raises(WaybillInvalid) as caught:
        request_waybill(order, "yunda", cod_amount=Decimal("64.70"))
    assert caught.value.details == {"cod_amount": [{"code": "not_supported", "message": caught.value.details[
        "cod_amount"][0]["message"]}]}
    assert_nothing_written(order)


def test_a_missing_monthly_account_is_a_field_error(fake_carrier):
    Carrier.objects.filter(code="sf").update(monthly_account="")
    with pytest.raises(WaybillInvalid) as caught:
        request_waybill(shippable_order(), "sf")
    assert list(caught.value.details) == ["monthly_account"]


def test_a_warehouse_without_sender_details_is_named(fake_carrier):
    order = OrderFactory(status="packed")
    with pytest.raises(SenderProfileMissing) as caught:
        request_waybill(order)
    assert caught.value.details == {"warehouse_id": order.warehouse_id}


def test_an_unknown_or_inactive_carrier_is_refused(fake_carrier):
    Carrier.objects.filter(code="ems").update(is_active=False)
    order = shippable_order()
    for code in ("ems", "ups"):
        with pytest.raises(UnknownCarrier):
            shipment_request_waybill(order_id=order.pk, carrier_code=code, actor=None, service_type="standard",
                                     weight=Decimal("1"))
    assert_nothing_written(order)


def test_asking_again_returns_the_issued_shipment_without_calling_the_carrier(fake_carrier):
    order = shippable_order()
    first = request_waybill(order, "yto")
    calls = len(fake_carrier.app.requests)
    again = request_waybill(order, "yto", weight=Decimal("3"))
    assert again.pk == first.pk and again.tracking_number == first.tracking_number
    assert len(fake_carrier.app.requests) == calls
    assert Shipment.objects.filter(order=order).count() == 1
    assert OrderEvent.objects.filter(order=order).count() == 1


def test_a_second_carrier_for_the_same_order_is_refused(fake_carrier):
    order = shippable_order()
    first = request_waybill(order, "sf")
    with pytest.raises(ShipmentExists) as caught:
        request_waybill(order, "zto")
    assert caught.value.details == {"shipment_id": first.pk, "carrier": "sf", "tracking_number": first.tracking_number}


def test_a_carrier_that_is_down_leaves_nothing_behind(closed_port_url):
    point_at("sf", f"{closed_port_url}/sf")
    Carrier.objects.filter(code="sf").update(monthly_account="0210012345")
    order = shippable_order()
    with pytest.raises(CarrierUnavailable) as caught:
        request_waybill(order, "sf")
    assert caught.value.code == "carrier_unavailable" and caught.value.details["reason"] == "connection_refused"
    assert_nothing_written(order)


def test_a_carrier_refusal_leaves_nothing_behind(fake_carrier):
    # Our schema is looser than the carrier here (cargo name made optional): the carrier has the last word.
    sf = Carrier.objects.get(code="sf")
    for spec in sf.waybill_schema["fields"]:
        if spec["path"] == "cargo.name":
            spec["required"] = False
    sf.save()
    order = shippable_order()
    with pytest.raises(CarrierRefused) as caught:
        request_waybill(order, "sf", cargo_name="")
    assert caught.value.details["field"] == "cargo.name"
    assert_nothing_written(order)


def test_after_a_timeout_the_retry_resends_the_same_request_and_gets_the_waybill_already_issued(
        fake_carrier, silent_server_url, settings):
    settings.ORDERHUB_CARRIER_TIMEOUT_SECONDS = 0.3
    order = shippable_order()
    point_at("zto", f"{silent_server_url}/zto")
    with pytest.raises(CarrierUnavailable) as caught:
        request_waybill(order, "zto")
    assert caught.value.may_have_arrived is True
    pending = Shipment.objects.get(order=order)
    assert pending.state == Shipment.State.REQUESTED and pending.tracking_number == ""
    assert not OrderEvent.objects.filter(order=order).exists()

    # The lost request did reach the carrier, which issued a waybill we never heard about.
    zto = point_at("zto", fake_carrier.base_url("zto"))
    unheard = adapter_for(zto).request_waybill(pending.request_payload)

    shipment = request_waybill(order, "zto", weight=Decimal("9"))  # options of a retry do not change the request
    assert shipment.pk == pending.pk and shipment.request_id == pending.request_id
    assert shipment.tracking_number == unheard.tracking_number
    assert shipment.weight == Decimal("1.200") and shipment.state == Shipment.State.ISSUED
    assert OrderEvent.objects.get(order=order).payload["tracking_number"] == unheard.tracking_number


def test_a_pending_request_is_not_deleted_by_a_later_failed_retry(fake_carrier, closed_port_url, silent_server_url,
                                                                 settings):
    settings.ORDERHUB_CARRIER_TIMEOUT_SECONDS = 0.3
    order = shippable_order()
    point_at("yunda", f"{silent_server_url}/yunda")
    with pytest.raises(CarrierUnavailable):
        request_waybill(order, "yunda")
    point_at("yunda", f"{closed_port_url}/yunda")
    with pytest.raises(CarrierUnavailable):
        request_waybill(order, "yunda")
    assert Shipment.objects.get(order=order).state == Shipment.State.REQUESTED


# --- the database's own guards ------------------------------------------------------------------

def make_shipment(order, carrier, **fields):
    values = {"order": order, "carrier": carrier, "request_id": uuid.uuid4(), "service_type": "1",
              "request_payload": {}, "weight": Decimal("1"), "actor_label": "system"}
    values.update(fields)
    return Shipment.objects.create(**values)


def issued(number):
    now = timezone.now()
    return {"state": "issued", "tracking_number": number, "requested_at": now - timedelta(minutes=1), "issued_at": now}


@pytest.mark.parametrize("fields", [
    {"weight": Decimal("0")},
    {"cod_amount": Decimal("0")},
    {"insured_value": Decimal("-1")},
    {"state": "issued"},  # issued without a tracking number
    {"state": "requested", "tracking_number": "SF100000000001"},
    {"state": "lost"},
    {"state": "issued", "tracking_number": "SF100000000001",
     "requested_at": timezone.now(), "issued_at": timezone.now() - timedelta(hours=1)},
])
def test_check_constraints(fields):
    order, sf = OrderFactory(), Carrier.objects.get(code="sf")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_shipment(order, sf, **fields)


def test_one_live_shipment_per_order_and_tracking_numbers_unique_per_carrier():
    sf, zto = Carrier.objects.get(code="sf"), Carrier.objects.get(code="zto")
    order, other = OrderFactory(), OrderFactory()
    make_shipment(order, sf, **issued("SF100000000001"))
    with pytest.raises(IntegrityError), transaction.atomic():
        make_shipment(order, zto)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_shipment(other, sf, **issued("SF100000000001"))
    make_shipment(other, zto, **issued("SF100000000001"))  # another carrier's number space
    make_shipment(order, sf, state="cancelled")  # a cancelled one does not count
